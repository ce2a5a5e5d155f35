// tapegrad bench: times one training step (forward, loss, backward, Adam) or one inference pass of a zoo model,
// after warm-up, and prints the median with the same JSON field names as shared/bench/torch_unet_bench.py.
// --profile adds the profiler's table (autograd/profiler.h); --mode fit also times real fit() steps, with the data
// loader's thread running beside the compute, so that what a step costs in training shows next to the bare step.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <numeric>

#include "apps/cli_wording.h"
#include "apps/commands.h"
#include "apps/model_options.h"
#include "apps/precision_option.h"
#include "autograd/allocator.h"
#include "autograd/ops.h"
#include "autograd/profiler.h"
#include "data/synthetic.h"
#include "layers/layer.h"
#include "layers/zoo.h"
#include "optim/factory.h"
#include "train/fit.h"
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

int64_t page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt + usage.ru_majflt;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median milliseconds of `steps` real fit() steps after `warmup` ones: a synthetic data set of the model's input
// size, one loader thread with flips and rotations, the training metrics, no run folder. A step is the time from
// one step's end to the next one's, so waiting for the loader counts.
double fit_step_ms(const ModelOptions& model_options, int batch, int warmup, int steps) {
  Model model = build_model(model_options);
  const Shape in = model.input_shape();
  data::SyntheticOptions so;
  so.count = static_cast<size_t>(std::max(64, 4 * batch));
  so.height = static_cast<int>(in[0]);
  so.width = static_cast<int>(in[1]);
  so.channels = static_cast<int>(in[2]);
  so.num_classes = std::max(model_options.classes, 2);
  so.seed = 1;
  train::FitOptions fo;
  fo.batch_size = batch;
  fo.epochs = 1;
  fo.steps_per_epoch = warmup + steps + 1;
  fo.workers = 1;
  fo.augment = data::AugmentOptions{.horizontal_flip = true, .vertical_flip = true, .rotate90 = true};
  fo.console = false;
  fo.progress = train::ProgressMode::Off;
  fo.monitor = "loss";
  std::vector<double> ends;
  fo.on_step_end = [&](train::StepEnd&) { ends.push_back(now_ms()); };
  train::fit(model, {std::make_shared<data::SyntheticDataset>(so), {}}, nullptr, fo);
  std::vector<double> ms;
  for (size_t i = static_cast<size_t>(warmup) + 1; i < ends.size(); ++i) ms.push_back(ends[i] - ends[i - 1]);
  return median(ms);
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
    std::string mode = "train", precision = "float32";
    bool json = false, layers = true, profile = false;
  };
  auto o = std::make_shared<Options>();
  add_model_options(*cmd, *model_options);
  cmd->add_option("--batch", o->batch, "Images per step")->capture_default_str()->check(kPositive);
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)");
  cmd->add_option("--steps", o->steps, "Timed steps")->capture_default_str()->check(kPositive);
  cmd->add_option("--warmup", o->warmup, "Untimed steps first")->capture_default_str()->check(kNonNegative);
  cmd->add_option("--mode", o->mode,
                  "train (forward, loss, backward, Adam), infer (forward only), or fit (the train step, then real "
                  "fit() steps with the data loader running)")
      ->capture_default_str()->check(CLI::IsMember({"train", "infer", "fit"}));
  add_precision_option(*cmd, o->precision);
  cmd->add_flag("--profile", o->profile,
                "Per op type and per layer: forward and backward ms, share of the step, MB allocated");
  cmd->add_flag("--json", o->json, "One JSON line with torch_unet_bench.py's field names");
  return [model_options, o] {
    if (o->threads > 0) omp_set_num_threads(o->threads);
    apply_precision(o->precision);
    const int threads = omp_get_max_threads();
    // The autoencoder is timed as the seed wrote it (3-channel linear output, MSE), like the PyTorch reference.
    const bool autoencoder = model_options->model == "autoencoder";
    const bool fit_mode = o->mode == "fit";
    if (fit_mode && autoencoder)
      throw CLI::ValidationError("--mode", "fit needs a segmentation model; the autoencoder regresses images");
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
    }, Model::HookCalls::as_run);  // time the layers as training runs them: fused pairs as one row

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
      const profiler::Region region("optimizer step");
      optimizer->step();
      optimizer->zero_grad();
    };
    for (int i = 0; i < o->warmup; ++i) step();
    timing = true;
    profiler::set_enabled(o->profile);
    profiler::reset();
    const int64_t faults_before = page_faults();
    const uint64_t misses_before = tensor_allocator_stats().system_allocations;
    std::vector<double> ms;
    for (int i = 0; i < o->steps; ++i) {
      const double t0 = now_ms();
      step();
      ms.push_back(now_ms() - t0);
    }
    profiler::set_enabled(false);
    const double faults = static_cast<double>(page_faults() - faults_before) / o->steps;
    const TensorAllocatorStats alloc = tensor_allocator_stats();
    const double misses = static_cast<double>(alloc.system_allocations - misses_before) / o->steps;
    const double med = median(ms);
    const bool trains = o->mode != "infer";
    const double flops = forward_flops * (trains ? 3.0 : 1.0);
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
        {"precision", o->precision},
        {"params", model.count_trainable_params()},
        {"bn_moving", bn_moving},
        {"ms_per_step", std::round(med * 10) / 10},
        {"ms_min", std::round(*std::min_element(ms.begin(), ms.end()) * 10) / 10},
        {"ms_max", std::round(*std::max_element(ms.begin(), ms.end()) * 10) / 10},
        {"images_per_s", std::round(o->batch / (med / 1e3) * 1000) / 1000},
        {"gflop_per_step", std::round(flops / 1e8) / 10},
        {"gflops", std::round(flops / 1e9 / (med / 1e3) * 10) / 10},
        {"peak_rss_mb", std::round(peak_rss_mb() * 10) / 10},
        {"page_faults_per_step", std::round(faults * 10) / 10},
        {"allocator_misses_per_step", std::round(misses * 10) / 10},
        {"tensor_peak_mb", std::round(static_cast<double>(alloc.peak_bytes) / 104857.6) / 10},
        {"tensor_live_peak_mb", std::round(static_cast<double>(alloc.peak_live_bytes) / 104857.6) / 10}};
    if (fit_mode) {
      const double fit_ms = fit_step_ms(*model_options, o->batch, o->warmup, o->steps);
      r["fit_ms_per_step"] = std::round(fit_ms * 10) / 10;
      r["fit_over_compute"] = std::round(fit_ms / med * 100) / 100;
    }
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
    if (trains)
      std::printf("%-26s %-20s %-20s %10s\n", "loss+backward+Adam", "", "", fixed(med - total, 1).c_str());
    if (o->profile)
      std::printf("\n%s", profiler::format_report(profiler::report(), o->steps,
                                                  std::accumulate(ms.begin(), ms.end(), 0.0) / o->steps).c_str());
    return 0;
  };
}

}  // namespace tg::app
