// im2col / col2im for NHWC convolutions with HWIO kernels.
//
// A patch row holds the kh*kw*Cin inputs one output pixel reads, ordered (ky, kx, ci), so the HWIO kernel is
// directly the [kh*kw*Cin, Cout] right-hand matrix of the GEMM. Work is addressed in output "lines": line
// n * out_h + oy is output row oy of image n, i.e. out_w consecutive patch rows. Converting a range of lines at a
// time keeps the workspace bounded whatever the image size.
#pragma once
#include <cstdint>

namespace tg::kernels {

struct ConvGeometry {
  int64_t batch = 0;
  int64_t in_h = 0, in_w = 0, in_c = 0;
  int64_t out_h = 0, out_w = 0, out_c = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // the bottom/right padding follows from the output size

  int64_t patch() const { return kernel_h * kernel_w * in_c; }  // K of the GEMM
  int64_t lines() const { return batch * out_h; }
  // A 1x1, stride-1, unpadded conv reads its input directly as the [N*H*W, Cin] patch matrix.
  bool pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 && pad_left == 0 &&
           out_h == in_h && out_w == in_w;
  }
};

// cols[(line - line_begin) * out_w + ox, :] = the patch of output pixel (line, ox); padding reads as zero.
template <class T>
void im2col(const T* x, const ConvGeometry& g, int64_t line_begin, int64_t line_end, T* cols);

// The adjoint of im2col: adds every patch entry of lines [line_begin, line_end) into the input element it was
// read from. Each input row gathers its own contributions in a fixed order, so threads never write the same
// element and the result does not depend on the thread count.
template <class T>
void col2im_add(const T* cols, const ConvGeometry& g, int64_t line_begin, int64_t line_end, T* dx);

}  // namespace tg::kernels
