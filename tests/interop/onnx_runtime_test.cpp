// The exported files run in ONNX Runtime (onnxruntime-node, CPU; `make test` installs it into BUILD/onnxruntime from
// the npm registry, pinned by tests/interop/onnxruntime/package-lock.json) and give tapegrad's outputs to 1e-4:
// the seed U-Net (narrow), the corrected seed autoencoder with non-trivial BatchNormalization statistics, and a
// model holding every other layer and argument the export covers, in both layouts. Skipped, saying so, without
// node or the package.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/interop/onnx_test_util.h"
#include "tests/skip.h"
#include "tests/temp_dir.h"

using namespace tg;
using namespace tg::onnx_test;
namespace fs = std::filesystem;

namespace {

const fs::path kScript = fs::path(TAPEGRAD_SOURCE_DIR) / "tests/interop/onnxruntime/run_onnx.js";

fs::path onnxruntime_dir() {
  if (const char* dir = std::getenv("TAPEGRAD_ONNXRUNTIME_DIR")) return dir;
  return fs::path(TAPEGRAD_BINARY_DIR) / "onnxruntime";
}

// Why ONNX Runtime cannot run here, or "" when it can.
std::string onnxruntime_missing() {
  if (std::system("command -v node >/dev/null 2>&1") != 0) return "node (Node.js) is not on PATH";
  const fs::path package = onnxruntime_dir() / "node_modules/onnxruntime-node/package.json";
  if (!fs::exists(package))
    return package.string() + " is missing: `make test` installs onnxruntime-node there (npm ci --ignore-scripts " +
           "in BUILD/onnxruntime); TAPEGRAD_ONNXRUNTIME_DIR points elsewhere";
  return "";
}

void write_floats(const fs::path& path, const Tensor& t) {
  const Tensor f = t.to(DType::F32);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(f.data<float>()),
                                              static_cast<std::streamsize>(f.nbytes()));
}

// x with its axes permuted (output axis i is input axis perm[i]): NHWC <-> NCHW for the NCHW files, done here
// independently of the export.
Tensor permuted(const Tensor& x, std::array<size_t, 4> perm) {
  const Shape& in = x.shape();
  const Shape out = {in[perm[0]], in[perm[1]], in[perm[2]], in[perm[3]]};
  const std::array<int64_t, 4> stride = {in[1] * in[2] * in[3], in[2] * in[3], in[3], 1};  // of each input axis
  Tensor y(out, DType::F32);
  int64_t flat = 0;
  for (int64_t a = 0; a < out[0]; ++a)
    for (int64_t b = 0; b < out[1]; ++b)
      for (int64_t c = 0; c < out[2]; ++c)
        for (int64_t d = 0; d < out[3]; ++d)
          y.set_flat(flat++, x.flat(a * stride[perm[0]] + b * stride[perm[1]] + c * stride[perm[2]] +
                                    d * stride[perm[3]]));
  return y;
}

// ONNX Runtime's output for `input` (NHWC) from the model exported in `layout`, as an NHWC tensor.
Tensor run_in_onnxruntime(const Model& model, const Tensor& input, OnnxLayout layout, const testing::TempDir& tmp) {
  const fs::path onnx = tmp / "model.onnx", in = tmp / "input.f32", out = tmp / "output.f32", log = tmp / "log.txt";
  export_onnx(model, onnx, {.layout = layout});
  const bool nchw = layout == OnnxLayout::NCHW;
  const Tensor fed = nchw ? permuted(input, {0, 3, 1, 2}) : input;
  write_floats(in, fed);
  std::string shape;
  for (int64_t d : fed.shape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
  const std::string command = "node '" + kScript.string() + "' --ort-dir '" + onnxruntime_dir().string() +
                              "' --model '" + onnx.string() + "' --input '" + in.string() + "' --shape " + shape +
                              " --output '" + out.string() + "' --threads 1 >'" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream log_in(log);
  const std::string report((std::istreambuf_iterator<char>(log_in)), std::istreambuf_iterator<char>());
  INFO("run_onnx.js said: " << report);
  REQUIRE(status == 0);
  const nlohmann::json result = nlohmann::json::parse(report);
  const Shape hwc = model.output_shape();
  const Shape nhwc = {input.dim(0), hwc[0], hwc[1], hwc[2]};
  const Shape dims = result.at("dims").get<Shape>();
  CHECK(dims == (nchw ? Shape{nhwc[0], nhwc[3], nhwc[1], nhwc[2]} : nhwc));
  Tensor y(dims, DType::F32);
  std::ifstream(out, std::ios::binary).read(reinterpret_cast<char*>(y.data<float>()),
                                            static_cast<std::streamsize>(y.nbytes()));
  return nchw ? permuted(y, {0, 2, 3, 1}) : y;
}

// ONNX Runtime agrees with Model::predict to 1e-4 (relative above 1) on every element.
void check_agrees(Model& model, const Tensor& input, OnnxLayout layout) {
  testing::TempDir tmp;
  const Tensor expected = model.predict(input);
  const Tensor got = run_in_onnxruntime(model, input, layout, tmp);
  REQUIRE(got.shape() == expected.shape());
  double worst = 0, largest = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double e = expected.flat(i), diff = std::fabs(got.flat(i) - e);
    worst = std::max(worst, diff);
    largest = std::max(largest, std::fabs(e));
    bad += !(diff <= 1e-4 * std::max(1.0, std::fabs(e)));
  }
  MESSAGE(model.name() << " (" << (layout == OnnxLayout::NHWC ? "NHWC" : "NCHW") << "): " << got.numel()
                       << " outputs up to " << largest << ", largest difference " << worst);
  CHECK(bad == 0);
  CHECK(largest > 0.1);  // outputs that are all ~0 would agree trivially
}

}  // namespace

TEST_CASE("ONNX Runtime runs the exported seed U-Net (narrow) and agrees with tapegrad to 1e-4" *
          doctest::test_suite("slow")) {
  if (const std::string why = onnxruntime_missing(); !why.empty()) TG_SKIP_TEST(why);
  Model model = unet({64, 64, 1}, 2, /*base_filters=*/8, 4, 0.5, false, /*seed=*/1);
  randomize_weights(model, 21);
  check_agrees(model, random_input({2, 64, 64, 1}, 3), OnnxLayout::NHWC);
  // --batch-norm (BatchNormalization, then an Activation layer's relu) and one class (sigmoid).
  Model bn = unet({32, 32, 2}, 1, /*base_filters=*/4, /*depth=*/2, 0.5, /*batch_norm=*/true, /*seed=*/2);
  randomize_weights(bn, 22);
  check_agrees(bn, random_input({2, 32, 32, 2}, 4), OnnxLayout::NHWC);
}

TEST_CASE("ONNX Runtime runs the exported corrected seed autoencoder, BN statistics and all, as tapegrad does" *
          doctest::test_suite("slow")) {
  if (const std::string why = onnxruntime_missing(); !why.empty()) TG_SKIP_TEST(why);
  Model model = seed_autoencoder({32, 32, 3}, /*corrected=*/true, /*seed=*/2, /*base_filters=*/8);
  randomize_weights(model, 31);
  check_agrees(model, random_input({2, 32, 32, 3}, 4), OnnxLayout::NHWC);
  // The segmentation head the command line's --model autoencoder builds, in NCHW.
  Model head = seed_autoencoder({32, 32, 1}, true, 3, 4, /*output_channels=*/3, "softmax");
  randomize_weights(head, 41);
  check_agrees(head, random_input({1, 32, 32, 1}, 5), OnnxLayout::NCHW);
}

TEST_CASE("ONNX Runtime agrees on every other layer and argument the export covers, in both layouts" *
          doctest::test_suite("slow")) {
  if (const std::string why = onnxruntime_missing(); !why.empty()) TG_SKIP_TEST(why);
  NameScope names;
  // 12 x 10: stride-2 'same' windows pad asymmetrically in height, symmetrically in width.
  const SymbolicTensor x = Input({12, 10, 2});
  const SymbolicTensor a = Conv2D(6, 3).strides(2).padding("same").activation("tanh")(x);              // 6 x 5
  const SymbolicTensor b = Conv2D(6, 3).dilation_rate(2).padding("same").use_bias(false)(a);            // 6 x 5
  const SymbolicTensor c = Activation("sigmoid")(add({a, b}));
  const SymbolicTensor d = BatchNormalization().center(false).scale(false).epsilon(0.01)(c);
  const SymbolicTensor up = UpSampling2D(2).interpolation("bilinear")(d);                              // 12 x 10
  const SymbolicTensor t1 = Conv2DTranspose(3, 3).strides(2).padding("same").activation("relu")(d);     // 12 x 10
  const SymbolicTensor t2 = Conv2DTranspose(3, 1).strides(2).padding("valid")(d);                       // 12 x 10
  const SymbolicTensor joined = concatenate({up, t1, t2, x});                                           // 12 x 10
  const SymbolicTensor p1 = MaxPooling2D(3).strides(2).padding("same")(joined);                         // 6 x 5
  const SymbolicTensor p2 = AveragePooling2D(3).strides(2).padding("same")(joined);                     // 6 x 5
  const SymbolicTensor t3 = Conv2DTranspose(4, 4).strides(2).padding("same").output_padding({1, 1})(
      Dropout(0.3)(add({p1, p2})));                                                                     // 11 x 9
  const SymbolicTensor t4 = Conv2DTranspose(4, 3).padding("valid")(t3);                                 // 13 x 11
  const SymbolicTensor h = Conv2D(4, 2).padding("valid")(t4);                                           // 12 x 10
  const SymbolicTensor y = Conv2D(3, 1).activation("softmax")(concatenate({h, x}));
  Model model(x, y, /*seed=*/7, "every_layer");
  randomize_weights(model, 51);
  const Tensor input = random_input({3, 12, 10, 2}, 6);
  check_agrees(model, input, OnnxLayout::NHWC);
  check_agrees(model, input, OnnxLayout::NCHW);
}
