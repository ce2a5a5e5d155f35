#include "apps/init_from.h"

#include "train/checkpoint.h"

namespace tg::app {

Model initial_model(const std::string& path, ModelOptions& model, const CLI::App& cmd) {
  for (const char* flag : {"--model", "--filters", "--depth", "--dropout", "--batch-norm"})
    if (cmd.count(flag) > 0)
      throw CLI::ValidationError(flag, "the architecture comes from --init-from " + path + "; leave " + flag + " out");
  Model initial = train::load_trained_model(path);
  if (initial.input_shapes().size() != 1 || initial.output_shapes().size() != 1)
    throw std::invalid_argument("--init-from " + path + ": the model has several inputs or outputs; train takes "
                                "one image in and one map of class scores out");
  const Shape in = initial.input_shape(), out = initial.output_shape();
  if (in.size() != 3 || out.size() != 3)
    throw std::invalid_argument("--init-from " + path + ": the model maps " + shape_str(in) + " to " + shape_str(out) +
                                "; train needs images (H, W, C) in and per-pixel class scores out");
  const int classes = static_cast<int>(out[2]);
  auto refuse = [&](const char* flag, const std::string& given, const std::string& has) {
    throw CLI::ValidationError(flag, given + " contradicts --init-from " + path + ", whose model has " + has);
  };
  if (cmd.count("--size") > 0 && (model.size != in[0] || model.size != in[1]))
    refuse("--size", std::to_string(model.size), "input " + shape_str(in));
  if (cmd.count("--channels") > 0 && model.channels != in[2])
    refuse("--channels", std::to_string(model.channels), "input " + shape_str(in));
  if (cmd.count("--classes") > 0 && model.classes != classes)
    refuse("--classes", std::to_string(model.classes), "output " + shape_str(out));
  model.input = std::to_string(in[0]) + "," + std::to_string(in[1]) + "," + std::to_string(in[2]);
  model.size = static_cast<int>(in[0]);
  model.channels = static_cast<int>(in[2]);
  model.classes = classes;
  return initial;
}

}  // namespace tg::app
