#include "train/predict.h"

#include <algorithm>
#include <stdexcept>

#include "data/dihedral.h"
#include "data/resize.h"

namespace tg::train {

namespace {

// Probabilities [B, h, w, K], K >= 2, for a batch of model-sized crops.
Tensor predict_batch(Model& model, const Tensor& batch, int batch_size) {
  Tensor out = model.predict(batch, batch_size);
  if (out.rank() != 4)
    throw std::invalid_argument("predict_image needs a model with an image output [N, H, W, K], model '" +
                                model.name() + "' gives " + shape_str(out.shape()));
  if (out.dim(3) != 1) return out;
  Tensor two({out.dim(0), out.dim(1), out.dim(2), 2});
  const float* p = out.data<float>();
  float* q = two.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) {
    q[2 * i] = 1.0f - p[i];
    q[2 * i + 1] = p[i];
  }
  return two;
}

// Start offsets of windows of `size` covering [0, length) with at least `overlap` shared pixels; the last window
// is aligned with the end so no padding is needed when length >= size.
std::vector<int> tile_starts(int length, int size, int overlap) {
  if (length <= size) return {0};
  const int stride = std::max(1, size - overlap);
  std::vector<int> starts;
  for (int s = 0;; s += stride) {
    if (s + size >= length) {
      starts.push_back(length - size);
      break;
    }
    starts.push_back(s);
  }
  return starts;
}

// Blending weight of a pixel at distance d from the nearest tile edge: rises linearly over the overlap so seams
// fade, flat inside.
float edge_weight(int d, int ramp) { return static_cast<float>(std::min(d + 1, std::max(ramp, 1))); }

// Mirrors an image outwards at the bottom and right up to at least (h, w).
Tensor pad_to(const Tensor& image, int h, int w) {
  const int H = static_cast<int>(image.dim(0)), W = static_cast<int>(image.dim(1));
  if (H >= h && W >= w) return image;
  return data::pad_mirrored(image, 0, std::max(0, h - H), 0, std::max(0, w - W));
}

Tensor predict_tiled(Model& model, const Tensor& image, int size_h, int size_w, const PredictImageOptions& o) {
  const int H = static_cast<int>(image.dim(0)), W = static_cast<int>(image.dim(1)), C = static_cast<int>(image.dim(2));
  const Tensor padded = pad_to(image, size_h, size_w);
  const int PH = static_cast<int>(padded.dim(0)), PW = static_cast<int>(padded.dim(1));
  const int overlap = o.overlap >= 0 ? o.overlap : std::min(size_h, size_w) / 4;
  if (o.overlap < -1 || overlap >= std::min(size_h, size_w))
    throw std::invalid_argument("overlap " + std::to_string(o.overlap) + ": tiles of " + std::to_string(size_h) + "x" +
                                std::to_string(size_w) + " can share 0 to " + std::to_string(std::min(size_h, size_w) - 1) +
                                " pixels (-1 = a quarter of the tile)");
  const std::vector<int> ys = tile_starts(PH, size_h, overlap), xs = tile_starts(PW, size_w, overlap);
  std::vector<std::pair<int, int>> tiles;
  for (int y : ys)
    for (int x : xs) tiles.emplace_back(y, x);

  Tensor accum, weight_sum({PH, PW});
  int64_t K = 0;
  const int ramp = std::max(1, overlap / 2);
  const size_t per_batch = static_cast<size_t>(std::max(1, o.tiles_per_batch));
  for (size_t first = 0; first < tiles.size(); first += per_batch) {
    const size_t count = std::min(tiles.size() - first, per_batch);
    Tensor batch({static_cast<int64_t>(count), size_h, size_w, C});
    for (size_t t = 0; t < count; ++t) {
      const Tensor crop = data::crop(padded, tiles[first + t].first, tiles[first + t].second, size_h, size_w);
      std::copy_n(crop.data<float>(), crop.numel(), batch.data<float>() + t * crop.numel());
    }
    const Tensor probs = predict_batch(model, batch, static_cast<int>(per_batch));
    if (!accum.defined()) {
      K = probs.dim(3);
      accum = Tensor({PH, PW, K});
    }
    for (size_t t = 0; t < count; ++t) {
      const auto [ty, tx] = tiles[first + t];
      const float* p = probs.data<float>() + static_cast<int64_t>(t) * size_h * size_w * K;
      for (int y = 0; y < size_h; ++y) {
        // Tiles touching the image border keep full weight there: no neighbour will blend with them.
        const int dy = std::min(ty == 0 ? size_h : y, ty + size_h == PH ? size_h : size_h - 1 - y);
        for (int x = 0; x < size_w; ++x) {
          const int dx = std::min(tx == 0 ? size_w : x, tx + size_w == PW ? size_w : size_w - 1 - x);
          const float wgt = std::min(edge_weight(dy, ramp), edge_weight(dx, ramp));
          const int64_t pix = static_cast<int64_t>(ty + y) * PW + (tx + x);
          weight_sum.data<float>()[pix] += wgt;
          for (int64_t k = 0; k < K; ++k)
            accum.data<float>()[pix * K + k] += wgt * p[(static_cast<int64_t>(y) * size_w + x) * K + k];
        }
      }
    }
  }
  for (int64_t pix = 0; pix < static_cast<int64_t>(PH) * PW; ++pix)
    for (int64_t k = 0; k < K; ++k) accum.data<float>()[pix * K + k] /= weight_sum.data<float>()[pix];
  return (PH == H && PW == W) ? accum : data::crop(accum, 0, 0, H, W);
}

Tensor predict_one_view(Model& model, const Tensor& image, const PredictImageOptions& o) {
  const Shape& in = model.input_shape();
  const int size_h = static_cast<int>(in[0]), size_w = static_cast<int>(in[1]);
  const int H = static_cast<int>(image.dim(0)), W = static_cast<int>(image.dim(1));
  if (o.fit == ImageFit::Resize && (H != size_h || W != size_w)) {
    const Tensor small = data::resize_image(image, size_h, size_w, o.interpolation);
    const Tensor p = predict_batch(model, small.reshape({1, size_h, size_w, in[2]}), 1);
    return data::resize_bilinear(p.reshape({size_h, size_w, p.dim(3)}), H, W);
  }
  if (o.fit == ImageFit::Resize || o.mirror_margin == 0) return predict_tiled(model, image, size_h, size_w, o);
  const int m = o.mirror_margin;
  const Tensor probs = predict_tiled(model, data::pad_mirrored(image, m, m, m, m), size_h, size_w, o);
  return data::crop(probs, m, m, H, W);
}

}  // namespace

Tensor predict_image(Model& model, const Tensor& image, const PredictImageOptions& o) {
  const Shape& in = model.input_shape();
  if (in.size() != 3)
    throw std::invalid_argument("predict_image needs a model with image input [H, W, C], model '" + model.name() +
                                "' takes " + keras_shape(in));
  if (!image.defined() || image.rank() != 3 || image.dim(2) != in[2] || image.dtype() != DType::F32)
    throw std::invalid_argument("predict_image: model '" + model.name() + "' takes float32 images [H, W, " +
                                std::to_string(in[2]) + "], got " +
                                (image.defined() ? std::string(dtype_name(image.dtype())) + " " + shape_str(image.shape())
                                                 : std::string("an empty Tensor")));
  if (model.dtype() != DType::F32)
    throw std::invalid_argument("predict_image: model '" + model.name() + "' is " + dtype_name(model.dtype()) +
                                "; convert it with model.to(DType::F32)");
  if (o.mirror_margin < 0 || o.mirror_margin > 4096)
    throw std::invalid_argument("predict_image: mirror_margin must be in [0, 4096], got " +
                                std::to_string(o.mirror_margin));
  if (!o.flips) return predict_one_view(model, image, o);
  // Square inputs take all eight symmetries; others the four that keep the shape.
  return data::average_over_views(image, [&](const Tensor& view) { return predict_one_view(model, view, o); });
}
}  // namespace tg::train
