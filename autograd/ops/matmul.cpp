// matmul: [M, K] x [K, N] -> [M, N] through the deterministic tiled GEMM.
#include "autograd/kernels/tiled_gemm.h"
#include "autograd/ops.h"

namespace tg {

Variable matmul(const Variable& a, const Variable& b) {
  if (a.rank() != 2 || b.rank() != 2 || a.dim(1) != b.dim(0))
    throw std::invalid_argument("matmul: needs [M, K] x [K, N], got " + shape_str(a.shape()) + " x " +
                                shape_str(b.shape()));
  if (a.dtype() != b.dtype()) throw std::invalid_argument("matmul: operands of different dtypes");
  const int64_t m = a.dim(0), k = a.dim(1), n = b.dim(1);
  Tensor y({m, n}, a.dtype());
  dispatch(a.dtype(), [&]<class T>() {
    kernels::gemm_tiled(false, false, m, n, k, T(1), a.value().data<T>(), k, b.value().data<T>(), n, T(0), y.data<T>(), n);
  });
  return record("matmul", std::move(y), {&a, &b}, [a, b, m, k, n](const Tensor& g) {
    dispatch(g.dtype(), [&]<class T>() {
      if (a.requires_grad()) {  // dA = G B^T
        Tensor ga({m, k}, g.dtype());
        kernels::gemm_tiled(false, true, m, k, n, T(1), g.data<T>(), n, b.value().data<T>(), n, T(0), ga.data<T>(), k);
        a.node()->accumulate_grad(std::move(ga));
      }
      if (b.requires_grad()) {  // dB = A^T G
        Tensor gb({k, n}, g.dtype());
        kernels::gemm_tiled(true, false, k, n, m, T(1), a.value().data<T>(), k, g.data<T>(), n, T(0), gb.data<T>(), n);
        b.node()->accumulate_grad(std::move(gb));
      }
    });
  });
}

}  // namespace tg
