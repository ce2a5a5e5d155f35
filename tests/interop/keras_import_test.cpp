// Keras files in: Keras-layout fixtures (tests/interop/make_keras_files.py, from known arrays) import with
// identical tensors, and the seed U-Net imported from them predicts the masks of the model they were written from.
#include <doctest/doctest.h>

#include "autograd/argmax.h"
#include "autograd/random/rng.h"
#include "interop/keras.h"
#include "interop/keras_h5.h"
#include "layers/layers.h"
#include "tests/interop/keras_test_util.h"
#include "tests/temp_dir.h"

namespace tg {
namespace {

using keras_test::identical;
using testing::TempDir;

Tensor random_images(const Shape& shape, uint64_t seed) {
  Tensor t(shape, DType::F32);
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(rng.uniform());
  return t;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

using keras_test::UnetFixture;

TEST_CASE("keras import: every layer class tapegrad reads arrives with identical tensors, Keras 2 and 3") {
  TG_NEED_H5PY();
  TempDir dir;
  keras_test::make_fixtures({"layers", dir.path().string()}, dir.path());
  const SafetensorsFile expected = load_safetensors(dir / "expected.safetensors");
  for (const char* file : {"layers_model.h5", "layers.keras"}) {
    INFO(file);
    interop::KerasImport imported = interop::import_keras_model(dir / file);
    const bool keras3 = std::string(file).ends_with(".keras");
    CHECK(imported.format == (keras3 ? interop::KerasFormat::Keras3Archive : interop::KerasFormat::Keras2Model));
    CHECK(imported.keras_version == (keras3 ? "3.3.3" : "2.12.0"));
    const std::vector<NamedTensor> weights = imported.model.weight_tensors();
    REQUIRE(weights.size() == expected.tensors.size());
    for (const NamedTensor& w : weights) {
      INFO(w.name);
      const Tensor* want = expected.find(w.name);
      REQUIRE(want != nullptr);
      CHECK(identical(w.tensor, *want));
    }
    // The Conv2DTranspose kernel keeps Keras's (h, w, filters, inputs) order: (2, 3, 5, 4).
    CHECK(imported.model.layer("conv2d_transpose").weights().at(0).variable.shape() == Shape{2, 3, 5, 4});
    CHECK(imported.model.layer("re_lu").class_name() == "Activation");
    CHECK(imported.model.layer("conv2d_1").weights().size() == 1);  // use_bias=False
    // tf.keras 2 feeds the Bessel-corrected variance into the moving variance; Keras 3 does not.
    CHECK(imported.model.layer("batch_normalization").config().at("unbiased_moving_variance") == !keras3);
    CHECK(imported.model.output_shape() == Shape{8, 8, 3});
  }
  // The two configs (Keras 2's and 3's serialization) describe one computation.
  Model a = interop::import_keras_model(dir / "layers_model.h5").model;
  Model b = interop::import_keras_model(dir / "layers.keras").model;
  const Tensor x = random_images({2, 8, 8, 3}, 3);
  CHECK(identical(a.predict(x), b.predict(x)));
}

TEST_CASE("keras import: the seed U-Net from Keras-layout files predicts the masks of the model they came from") {
  TG_NEED_H5PY();
  UnetFixture f(7);
  const Tensor images = random_images({3, keras_test::kUnetSize, keras_test::kUnetSize, 1}, 11);
  const Tensor probabilities = f.model.predict(images);
  const Tensor masks = argmax(probabilities);
  for (const char* file : {"unet_model.h5", "unet.keras"}) {
    INFO(file);
    interop::KerasImport imported = interop::import_keras_model(f.dir / file);
    CHECK(imported.notes.empty());
    CHECK(imported.model.count_params() == f.model.count_params());
    keras_test::require_same_weights(imported.model, f.model);
    const Tensor p = imported.model.predict(images);
    CHECK(identical(p, probabilities));
    CHECK(identical(argmax(p), masks));
  }
  // Weights-only files into a model of the same architecture (drawn from another seed first).
  for (const char* file : {"unet_weights.h5", "unet.weights.h5", "unet_model.h5", "unet.keras"}) {
    INFO(file);
    Model model = keras_test::narrow_unet(99);
    const std::string how = interop::load_keras_weights(model, f.dir / file);
    CHECK(!how.empty());
    keras_test::require_same_weights(model, f.model);
    CHECK(identical(argmax(model.predict(images)), masks));
  }
}

TEST_CASE("keras import: weights-only Keras 2 files match layers by order when the names differ") {
  TG_NEED_H5PY();
  UnetFixture f(7);
  nlohmann::json config = f.model.config();  // the same architecture with every layer renamed
  auto renamed = [](const nlohmann::json& n) { return "my_" + n.get<std::string>(); };
  for (nlohmann::json& layer : config["layers"]) {
    layer["name"] = renamed(layer["name"]);
    for (nlohmann::json& in : layer["inbound"]) in = renamed(in);
  }
  for (const char* key : {"inputs", "outputs"})
    for (nlohmann::json& n : config[key]) n = renamed(n);
  Model model = Model::from_config(config);
  const std::string how = interop::load_keras_weights(model, f.dir / "unet_weights.h5");
  CHECK(contains(how, "by order"));
  const std::vector<NamedTensor> got = model.weight_tensors(), want = f.model.weight_tensors();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(identical(got[i].tensor, want[i].tensor));
}

TEST_CASE("keras import: mismatched files name the layer and both shapes, and leave the model as it was") {
  TG_NEED_H5PY();
  UnetFixture f(7);
  Model narrow = keras_test::narrow_unet(1, /*filters=*/4);
  const std::vector<NamedTensor> before = narrow.weight_tensors();
  std::vector<Tensor> copies;
  for (const NamedTensor& t : before) copies.push_back(t.tensor.clone());
  const std::string keras2 = error_of([&] { interop::load_keras_weights(narrow, f.dir / "unet_weights.h5"); });
  CHECK(contains(keras2, "unet_weights.h5"));
  CHECK(contains(keras2, "layer 'conv2d' (Conv2D)"));
  CHECK(contains(keras2, "[3, 3, 1, 8]"));
  CHECK(contains(keras2, "[3, 3, 1, 4]"));
  const std::string keras3 = error_of([&] { interop::load_keras_weights(narrow, f.dir / "unet.weights.h5"); });
  CHECK(contains(keras3, "layers/conv2d/vars"));
  CHECK(contains(keras3, "[3, 3, 1, 8]"));
  const std::vector<NamedTensor> after = narrow.weight_tensors();
  for (size_t i = 0; i < after.size(); ++i) CHECK(identical(after[i].tensor, copies[i]));
  // A deeper model has layers the file lacks.
  Model deeper = keras_test::narrow_unet(1, keras_test::kUnetFilters, /*depth=*/5);
  const std::string missing = error_of([&] { interop::load_keras_weights(deeper, f.dir / "unet.weights.h5"); });
  CHECK(contains(missing, "unet.weights.h5"));
  CHECK(contains(missing, "(Conv2D)"));
}

TEST_CASE("keras import: a layer class tapegrad lacks is named, with the file") {
  TG_NEED_H5PY();
  TempDir dir;
  keras_test::make_fixtures({"unknown", dir.path().string()}, dir.path());
  const std::string e = error_of([&] { interop::import_keras_model(dir / "lstm_model.h5"); });
  CHECK(contains(e, "lstm_model.h5"));
  CHECK(contains(e, "layer 'lstm' (LSTM)"));
  CHECK(contains(e, "tapegrad does not have"));
}

TEST_CASE("keras import: Sequential models, Keras 2 (input shape on the first layer) and Keras 3") {
  TG_NEED_H5PY();
  TempDir dir;
  keras_test::make_fixtures({"sequential", dir.path().string()}, dir.path());
  const SafetensorsFile expected = load_safetensors(dir / "expected_seq.safetensors");
  for (const char* file : {"seq_model.h5", "seq.keras"}) {
    INFO(file);
    interop::KerasImport imported = interop::import_keras_model(dir / file);
    CHECK(imported.model.input_shape() == Shape{8, 8, 2});
    CHECK(imported.model.output_shape() == Shape{4, 4, 2});
    CHECK(imported.model.output_activation() == "softmax");
    const std::vector<NamedTensor> weights = imported.model.weight_tensors();
    REQUIRE(weights.size() == expected.tensors.size());
    for (const NamedTensor& w : weights) {
      INFO(w.name);
      REQUIRE(expected.find(w.name) != nullptr);
      CHECK(identical(w.tensor, expected.at(w.name)));
    }
  }
}

TEST_CASE("keras import: input sizes a Keras model leaves open (None) are given by the caller") {
  TG_NEED_H5PY();
  TempDir dir;
  keras_test::make_fixtures({"open-input", dir.path().string()}, dir.path());
  const std::string e = error_of([&] { interop::import_keras_model(dir / "open_input_model.h5"); });
  CHECK(contains(e, "open_input_model.h5: layer 'input_1' (InputLayer) leaves input sizes open"));
  CHECK(contains(e, "--input H,W,C"));
  interop::KerasImport imported = interop::import_keras_model(dir / "open_input_model.h5", {.input_shape = {48, 32, 1}});
  CHECK(imported.model.input_shape() == Shape{48, 32, 1});
  CHECK(imported.model.output_shape() == Shape{48, 32, 2});
  const std::string channels = error_of(
      [&] { interop::import_keras_model(dir / "open_input_model.h5", {.input_shape = {48, 32, 3}}); });
  CHECK(contains(channels, "contradicts"));
}

TEST_CASE("keras import: files that are not Keras's are refused, naming the file and what is missing") {
  TempDir dir;
  std::ofstream(dir / "text.h5") << "not hdf5";
  CHECK(contains(error_of([&] { interop::import_keras_model(dir / "text.h5"); }), "text.h5: neither an HDF5 file"));
  CHECK(contains(error_of([&] { interop::import_keras_model(dir / "absent.h5"); }), "absent.h5: no such file"));
  {
    interop::h5::QuietErrors quiet;
    interop::h5::Handle empty(H5Fcreate((dir / "empty.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                              H5Fclose);
    REQUIRE(empty.get() >= 0);
  }
  const std::string e = error_of([&] { interop::import_keras_model(dir / "empty.h5"); });
  CHECK(contains(e, "empty.h5: an HDF5 file, but not in a layout Keras writes"));
  // A weights-only file has no architecture to import.
  Model model = unet({16, 16, 1}, 2, 2, 2, 0.0, false, 1);
  interop::export_keras_weights(model, dir / "m.weights.h5");
  CHECK(contains(error_of([&] { interop::import_keras_model(dir / "m.weights.h5"); }), "holds weights only"));
}

}  // namespace
}  // namespace tg
