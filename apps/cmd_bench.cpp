// tapegrad bench: times one training step (forward, loss, backward, Adam) or one inference pass of a zoo model,
// after warm-up, and prints the median with the same JSON field names as shared/bench/torch_unet_bench.py.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

#include "apps/commands.h"
#include "apps/model_options.h"
#include "autograd/ops.h"
#include "layers/layer.h"
#include "layers/zoo.h"
#include "optim/factory.h"
#include "train/loss.h"

namespace tg::app {

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Forward FLOPs of a convolution call, 2 per multiply-add (as the PyTorch reference counts them).
double conv_flops(const Layer& layer, const std::vector<Variable>& inputs, const Variable& output) {
  const std::string type = layer.class_name();
  if (type != "Conv2D" && type != "Conv2DTranspose") return 0.0;
  const Shape& k = layer.weights().at(0).variable.shape();  // Conv2D [kh, kw, in, out]; transposed [kh, kw, out, in]
  if (type == "Conv2D") return 2.0 * static_cast<double>(output.numel()) * static_cast<double>(k[0] * k[1] * k[2]);
  return 2.0 * static_cast<double>(inputs.at(0).numel()) * static_cast<double>(k[0] * k[1] * k[2]);
}

struct LayerTiming {
  std::string name, type;
  Shape output;
  std::vector<double> seconds;
  double flops = 0;
};

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
}  // namespace

Command add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Time a training step or an inference pass (median ms, images/s, GFLOP/s)");
  auto model_options = std::make_shared<ModelOptions>();
  struct Options {
    int batch = 2, threads = 0, steps = 5, warmup = 2;
    std::string mode = "train";
    bool json = false, layers = true;
  };
  auto o = std::make_shared<Options>();
  add_model_options(*cmd, *model_options);
  cmd->add_option("--batch", o->batch, "Images per step")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)");
  cmd->add_option("--steps", o->steps, "Timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", o->warmup, "Untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--mode", o->mode, "train (forward, loss, backward, Adam) or infer (forward only)")
      ->capture_default_str()->check(CLI::IsMember({"train", "infer"}));
  cmd->add_flag("--json", o->json, "One JSON line with torch_unet_bench.py's field names");
  return [model_options, o] {
    if (o->threads > 0) omp_set_num_threads(o->threads);
    const int threads = omp_get_max_threads();
    // The autoencoder is timed as the seed wrote it (3-channel linear output, MSE), like the PyTorch reference.
    const bool autoencoder = model_options->model == "autoencoder";
    Model model = autoencoder ? seed_autoencoder(model_options->input_shape(), /*corrected=*/true, model_options->seed,
                                                 model_options->resolved_filters())
                              : build_model(*model_options);
    const Shape in = model.input_shape();
    Tensor images({o->batch, in[0], in[1], in[2]});
    Rng(1).fill_uniform(images, 0.0, 1.0);
    const int classes = autoencoder ? 0 : model_options->classes;
    Tensor labels({o->batch, in[0], in[1]});
    Tensor targets;  // the autoencoder regresses an image
    if (autoencoder) {
      const Shape out = model.output_shape();
      targets = Tensor({o->batch, out[0], out[1], out[2]});
      Rng(2).fill_uniform(targets, 0.0, 1.0);
    } else {
      Rng rng(2);
      for (int64_t i = 0; i < labels.numel(); ++i) labels.set_flat(i, static_cast<double>(rng.uniform_int(std::max(classes, 2))));
    }
    auto optimizer = make_optimizer({{"name", "adam"}, {"epsilon", 1e-7}}, model.parameters());
    std::optional<train::TrainingLoss> loss;
    if (!autoencoder) loss.emplace("auto", model, std::max(classes, 2), -1);

    std::map<std::string, LayerTiming> per_layer;
    std::vector<std::string> layer_order;
    double forward_flops = 0;
    bool timing = false;
    model.set_layer_hook([&](const Layer& layer, const std::vector<Variable>& inputs, const Variable& output, double s) {
      LayerTiming& t = per_layer[layer.name()];
      if (t.name.empty()) {
        t = {layer.name(), layer.class_name(), output.shape(), {}, conv_flops(layer, inputs, output)};
        layer_order.push_back(layer.name());
        forward_flops += t.flops;
      }
      if (timing) t.seconds.push_back(s);
    });

    auto step = [&] {
      if (o->mode == "infer") {
        NoGrad no_grad;
        model.eval();
        model.forward(Variable(images));
        return;
      }
      model.train();
      Variable value;
      if (autoencoder) {
        value = mse(model.forward(Variable(images)), targets);
      } else {
        value = (*loss)(loss->outputs(model, Variable(images)), labels);
      }
      value.backward();
      optimizer->step();
      optimizer->zero_grad();
    };
    for (int i = 0; i < o->warmup; ++i) step();
    timing = true;
    std::vector<double> ms;
    for (int i = 0; i < o->steps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      step();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    const double med = median(ms);
    const double flops = forward_flops * (o->mode == "train" ? 3.0 : 1.0);
    int64_t bn_moving = 0;
    for (const Weight& w : model.non_trainable_weights()) bn_moving += w.variable.numel();
    nlohmann::ordered_json r = {
        {"framework", std::string("tapegrad ") + TAPEGRAD_VERSION},
        {"model", model_options->model},
        {"mode", o->mode},
        {"batch", o->batch},
        {"size", in[0]},
        {"channels", in[2]},
        {"filters", model_options->resolved_filters()},
        {"threads", threads},
        {"params", model.count_trainable_params()},
        {"bn_moving", bn_moving},
        {"ms_per_step", std::round(med * 10) / 10},
        {"ms_min", std::round(*std::min_element(ms.begin(), ms.end()) * 10) / 10},
        {"ms_max", std::round(*std::max_element(ms.begin(), ms.end()) * 10) / 10},
        {"images_per_s", std::round(o->batch / (med / 1e3) * 1000) / 1000},
        {"gflop_per_step", std::round(flops / 1e8) / 10},
        {"gflops", std::round(flops / 1e9 / (med / 1e3) * 10) / 10},
        {"peak_rss_mb", std::round(peak_rss_mb() * 10) / 10}};
    if (o->json) {
      std::cout << r.dump() << "\n";
      return 0;
    }
    for (auto& [k, v] : r.items()) std::printf("%16s: %s\n", k.c_str(), v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
    std::printf("\nforward time per layer (median of %d %s steps)\n", o->steps, o->mode.c_str());
    std::printf("%-26s %-20s %-20s %10s %10s %9s\n", "layer", "type", "output", "ms", "GFLOP", "GFLOP/s");
    double total = 0;
    for (const std::string& name : layer_order) {
      const LayerTiming& t = per_layer[name];
      const double lm = t.seconds.empty() ? 0.0 : median(t.seconds) * 1e3;
      total += lm;
      std::printf("%-26s %-20s %-20s %10s %10s %9s\n", t.name.c_str(), t.type.c_str(), shape_str(t.output).c_str(),
                  fixed(lm, 2).c_str(), t.flops ? fixed(t.flops / 1e9, 3).c_str() : "",
                  t.flops && lm > 0 ? fixed(t.flops / 1e9 / (lm / 1e3), 1).c_str() : "");
    }
    std::printf("%-26s %-20s %-20s %10s\n", "forward total", "", "", fixed(total, 1).c_str());
    if (o->mode == "train")
      std::printf("%-26s %-20s %-20s %10s\n", "loss+backward+Adam", "", "", fixed(med - total, 1).c_str());
    return 0;
  };
}

}  // namespace tg::app
