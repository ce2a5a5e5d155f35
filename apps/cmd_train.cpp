// tapegrad train: a zoo model on a folder of images and masks (or the built-in synthetic set), with
// validation, checkpoints, metric logs and an HTML report in RUN_DIR; `--resume RUN_DIR` continues a run.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>

#include "apps/cli_wording.h"
#include "apps/commands.h"
#include "apps/init_from.h"
#include "apps/model_options.h"
#include "apps/precision_option.h"
#include "apps/train_data.h"
#include "autograd/parallel.h"
#include "distributed/mpi_job.h"
#include "train/class_weights.h"
#include "train/fit.h"
#include "train/run_config.h"
#include "train/signals.h"

namespace fs = std::filesystem;

namespace tg::app {

namespace {

struct TrainOptions {
  ModelOptions model;
  DataOptions data;
  int epochs = 10, batch = 2, threads = 0, workers = 1, keep_last = 3, patience = 0, report_samples = 6;
  int64_t steps_per_epoch = 0, checkpoint_every = 0;
  double lr = 1e-3, weight_decay = 0.0, clipnorm = 0.0;
  double ema = 0.0;  // --ema: validate and checkpoint the weights' moving average with this momentum; 0: off
  std::string optimizer = "adam", loss = "auto", schedule = "constant", monitor, out, resume, progress = "auto";
  std::string class_weights;  // "", "median" or "W0,W1,..."
  std::string border_weights; // "" or "W0,SIGMA[,CLASS]"
  int warmup_steps = 0;
  uint64_t seed = 0;
  std::string init_from;  // --init-from: start from this file's model (apps/init_from.h)
  int grad_shards = 0;    // 0: one per process (1 on its own); a resumed run keeps the number it began with
  std::string precision = "float32";  // --precision: the convolutions' arithmetic, kept by a resumed run
  bool sync_bn = false;   // --sync-bn: BatchNormalization's statistics over the whole batch, kept by a resumed run
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainOptions, model, data, epochs, batch, threads, workers, keep_last,
                                                patience, report_samples, steps_per_epoch, checkpoint_every, lr,
                                                weight_decay, clipnorm, optimizer, loss, schedule, monitor, out,
                                                warmup_steps, seed, class_weights, border_weights, init_from,
                                                grad_shards, precision, sync_bn, ema)

// --class-weights W0,W1,...: the numbers (each positive), or empty when the text is not such a list.
std::vector<double> weight_list(const std::string& text) {
  std::vector<double> weights;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    size_t used = 0;
    double w = 0;
    try {
      w = std::stod(part, &used);
    } catch (const std::exception&) {
      return {};
    }
    if (used != part.size() || !(w >= 0.0 && w <= 1e6)) return {};
    weights.push_back(w);
  }
  return weights;
}

// The class weights of a run: none, one per class as given, or median frequency balancing over the training samples.
std::vector<double> class_weights_for(const std::string& spec, const train::DataSource& train, int classes) {
  if (spec.empty()) return {};
  if (spec == "median") {
    std::vector<double> w = train::median_frequency_weights(train);
    std::string shown;
    for (double x : w) shown += (shown.empty() ? "" : ", ") + std::to_string(x);
    std::cout << "Class weights (median frequency over the training samples): " << shown << "\n";
    return w;
  }
  std::vector<double> w = weight_list(spec);
  if (static_cast<int>(w.size()) != classes)
    throw CLI::ValidationError("--class-weights", "gives " + std::to_string(w.size()) + " weights for " +
                                                      std::to_string(classes) + " classes (--classes; a single "
                                                      "sigmoid output has 2: background and foreground)");
  return w;
}

// --border-weights W0,SIGMA[,CLASS]: the weight map's settings, or nothing when the text is not such a list.
std::optional<data::BorderWeightOptions> border_weights_for(const std::string& text) {
  const std::vector<double> v = weight_list(text);
  if (v.size() != 2 && v.size() != 3) return std::nullopt;
  data::BorderWeightOptions o{.w0 = v[0], .sigma = v[1]};
  if (v.size() == 3) {
    if (v[2] != std::floor(v[2])) return std::nullopt;
    o.border_class = static_cast<int>(v[2]);
  }
  try {
    o.validate();
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
  return o;
}

std::string loss_name(const std::string& cli) {
  if (cli == "ce") return "sparse_categorical_crossentropy";
  if (cli == "bce") return "binary_crossentropy";
  if (cli == "ce+dice") return "crossentropy+dice";
  return cli;  // auto, dice
}

nlohmann::json optimizer_config(const TrainOptions& o, int64_t total_steps) {
  nlohmann::json opt = {{"name", o.optimizer}, {"learning_rate", o.lr}};
  if (o.weight_decay > 0) opt["weight_decay"] = o.weight_decay;
  if (o.clipnorm > 0) opt["global_clipnorm"] = o.clipnorm;
  if (o.optimizer == "sgd") opt["momentum"] = 0.9;
  if (o.ema > 0) {
    opt["use_ema"] = true;
    opt["ema_momentum"] = o.ema;
  }
  if (o.schedule == "cosine")
    opt["schedule"] = {{"name", "cosine"},
                       {"initial_learning_rate", o.warmup_steps > 0 ? 0.0 : o.lr},
                       {"decay_steps", std::max<int64_t>(1, total_steps - o.warmup_steps)},
                       {"warmup_steps", o.warmup_steps}};
  if (o.schedule == "cosine" && o.warmup_steps > 0) opt["schedule"]["warmup_target"] = o.lr;
  if (o.schedule == "plateau")
    opt["schedule"] = {{"name", "reduce_on_plateau"}, {"monitor", o.monitor}, {"factor", 0.5}, {"patience", 3}};
  return opt;
}

// Every setting of a run, as flags: the command line and a resumed run's saved settings pass through the same checks.
void add_train_options(CLI::App& cmd, TrainOptions& o) {
  add_model_options(cmd, o.model);
  add_data_options(cmd, o.data);
  add_training_data_options(cmd, o.data);
  add_class_names_option(cmd, o.data);
  cmd.add_option("--epochs", o.epochs, "Epochs (with --resume: the new total)")->capture_default_str()->check(kPositive);
  cmd.add_option("--batch", o.batch, "Batch size")->capture_default_str()->check(kPositive);
  cmd.add_option("--steps-per-epoch", o.steps_per_epoch, "Steps per epoch (default: one pass over the training set)")
      ->check(kNonNegative);
  cmd.add_option("--lr", o.lr, "Learning rate")->capture_default_str()->check(kPositive);
  cmd.add_option("--optimizer", o.optimizer, "adam (Keras defaults), adamw or sgd (momentum 0.9)")
      ->capture_default_str()->check(CLI::IsMember({"adam", "adamw", "sgd"}));
  cmd.add_option("--weight-decay", o.weight_decay, "Decoupled weight decay (adamw)")->check(kNonNegative);
  cmd.add_option("--clipnorm", o.clipnorm, "Clip gradients to this global norm (0 = off)")->check(kNonNegative);
  cmd.add_option("--ema", o.ema,
                 "Keep an exponential moving average of the weights with this momentum (e.g. 0.999; Keras's "
                 "use_ema) and validate, checkpoint and return it; training continues on the raw weights")
      ->check(kOpenUnitInterval);
  cmd.add_option("--schedule", o.schedule, "Learning-rate schedule: constant, cosine (over the whole run) or plateau")
      ->capture_default_str()->check(CLI::IsMember({"constant", "cosine", "plateau"}));
  cmd.add_option("--warmup-steps", o.warmup_steps, "Linear warm-up steps before the cosine decay")->check(kNonNegative);
  cmd.add_option("--loss", o.loss, "auto (crossentropy matching the output), ce, bce, dice, ce+dice or mse")
      ->capture_default_str()->check(CLI::IsMember({"auto", "ce", "bce", "dice", "ce+dice", "mse"}));
  cmd.add_option("--class-weights", o.class_weights,
                 "Per-class loss weights: median (median frequency balancing over the training samples) or one "
                 "number per class, W0,W1,...")
      ->check(CLI::Validator(
          [](const std::string& spec) {
            return spec == "median" || !weight_list(spec).empty()
                       ? std::string()
                       : "expected median or non-negative numbers W0,W1,... (one per class)";
          },
          "median|W0,W1,..."));
  cmd.add_option("--border-weights", o.border_weights,
                 "The U-Net paper's border weight map on the training loss: each pixel of class CLASS (default 0) "
                 "lying between objects weighs w_c + W0 exp(-(d1 + d2)^2 / 2 SIGMA^2), d1 and d2 its distances in "
                 "pixels to the two nearest objects (the paper: 10,5 at 512x512)")
      ->check(CLI::Validator(
          [](const std::string& spec) {
            return border_weights_for(spec) ? std::string()
                                            : "expected W0,SIGMA or W0,SIGMA,CLASS: W0 in [0, 1e6], SIGMA in "
                                              "(0, 1000] pixels, CLASS a class id";
          },
          "W0,SIGMA[,CLASS]"));
  cmd.add_option("--monitor", o.monitor, "Metric for the best checkpoint and early stopping (default: val_loss)");
  cmd.add_option("--patience", o.patience, "Early stopping after this many epochs without improvement (0 = off)");
  cmd.add_option("--keep-last", o.keep_last, "Step-numbered checkpoints kept besides last and best")->capture_default_str();
  cmd.add_option("--checkpoint-every", o.checkpoint_every, "Also checkpoint every N steps within an epoch");
  cmd.add_option("--seed", o.seed, "Seed for weights, data order, augmentation and dropout")
      ->capture_default_str()->check(kNonNegative);
  cmd.add_option("--threads", o.threads, "Compute threads (default: all cores; the results do not depend on it)")
      ->check(kThreadCount);
  cmd.add_option("--workers", o.workers, "Data-loading threads")->capture_default_str()->check(kNonNegative);
  add_precision_option(cmd, o.precision);
  cmd.add_option("--report-samples", o.report_samples, "Validation samples shown in report.html")->capture_default_str();
  cmd.add_option("--init-from", o.init_from,
                 "Start from the model in this tapegrad weights or checkpoint file (e.g. from import-keras): its "
                 "architecture, input size, classes and weights")
      ->check(CLI::ExistingFile);
  cmd.add_option("--grad-shards", o.grad_shards,
                 "Sum each batch's gradient from this many equal parts, each its own forward and backward pass, as "
                 "that many processes would (default: one part per MPI process, 1 on its own; a run on N processes "
                 "equals a one-process run with --grad-shards N)")
      ->check(kNonNegative);
  cmd.add_flag("--sync-bn", o.sync_bn,
               "BatchNormalization in training normalises with the statistics of the whole batch, every part on "
               "every process (PyTorch's SyncBatchNorm; two small sums across the processes per layer and step); "
               "each process then runs its parts as one pass. Default: each part's own statistics. Harmless "
               "without BatchNormalization or on one process with --grad-shards 1");
  cmd.add_option("--progress", o.progress, "auto (bar on a terminal, lines otherwise), bar, lines or none")
      ->capture_default_str()->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
}

// A resumed run takes its settings from RUN_DIR/config.json, which anyone may have edited: each saved value is handed
// to a parser built like this command's, as if typed, so `"batch": 0` is refused as `--batch 0` would be.
TrainOptions read_saved_settings(const nlohmann::json& saved, const std::string& config_path) {
  const nlohmann::json& command = saved.at("command");
  TrainOptions run;
  try {
    run = command.get<TrainOptions>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(config_path + ": \"command\" holds a setting of the wrong type: " + e.what());
  }
  CLI::App parser;
  TrainOptions scratch;
  add_train_options(parser, scratch);
  const nlohmann::json defaults = TrainOptions{};
  std::vector<std::string> args;
  for (const CLI::Option* opt : parser.get_options()) {
    std::string key = opt->get_name();
    if (key.rfind("--", 0) != 0 || key == "--help") continue;
    key = key.substr(2);
    std::replace(key.begin(), key.end(), '-', '_');
    for (const char* section : {"", "model", "data"}) {
      const nlohmann::json& values = *section ? command.value(section, nlohmann::json::object()) : command;
      const nlohmann::json& unset = *section ? defaults.at(section) : defaults;
      if (!values.is_object() || !values.contains(key) || values.at(key).is_object()) continue;  // "model", "data"
      const nlohmann::json& value = values.at(key);
      if (unset.contains(key) && value == unset.at(key)) break;  // the default, which may lie outside the flag's range
      if (value.is_boolean()) {
        args.push_back(opt->get_name() + "=" + (value.get<bool>() ? "true" : "false"));
      } else {
        args.push_back(opt->get_name());
        args.push_back(value.is_string() ? value.get<std::string>() : value.dump());
      }
      break;
    }
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  try {
    parser.parse(args);
  } catch (const CLI::ParseError& e) {
    throw std::runtime_error(config_path + ": a saved setting is refused: " + e.what() +
                             " (the file was edited or damaged; start a new run with --out)");
  }
  return run;
}

// A command run as one process of an MPI job (started by mpirun or srun), or on its own (group null). In a job, an
// error on one process ends every process: the others would otherwise wait for it in their next sum forever.
Command in_mpi_job(std::function<int(const std::shared_ptr<train::Collective>&)> body) {
  return [body] {
    const std::shared_ptr<train::Collective> group = distributed::join_job();
    if (!group) return body(nullptr);
    try {
      return body(group);
    } catch (const CLI::Error& e) {
      distributed::abort_job(*group, std::string(e.what()) + "\nRun with --help for more information.", 2);
    } catch (const std::exception& e) {
      distributed::abort_job(*group, "error: " + in_cli_terms(e.what()), 1);
    }
  };
}

}  // namespace

void check_saved_train_settings(const nlohmann::json& saved, const std::string& config_path) {
  if (!saved.contains("command"))
    throw std::runtime_error(config_path + " was not written by `tapegrad train`; resume it from code");
  (void)read_saved_settings(saved, config_path);
}

Command add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a U-Net (default: on the built-in synthetic dataset)");
  auto o = std::make_shared<TrainOptions>();
  add_train_options(*cmd, *o);
  auto* out = cmd->add_option("--out", o->out, "Run folder to create: checkpoints, logs, metrics and report.html");
  auto* resume = cmd->add_option("--resume", o->resume, "Continue the run in this folder from its last checkpoint")
                     ->check(CLI::ExistingDirectory);
  out->excludes(resume);
  auto profile = std::make_shared<int64_t>(0);
  cmd->add_option("--profile", *profile,
                  "Profile N steps (after the first) and print per op type and per layer: forward and backward ms, "
                  "share of the step, MB allocated; also RUN_DIR/profile.txt")
      ->check(kNonNegative);
  auto overwrite = std::make_shared<bool>(false);
  cmd->add_flag("--overwrite", *overwrite,
                "Replace an earlier run in the --out folder (its config, logs, report and checkpoints); without it "
                "such a folder is refused")
      ->excludes(resume);
  return in_mpi_job([o, cmd, overwrite, profile](const std::shared_ptr<train::Collective>& group) {
    if (o->resume.empty() && o->out.empty())
      throw CLI::RequiredError("--out RUN_DIR (or --resume RUN_DIR)");  // reported as bad usage below
    TrainOptions run = *o;
    if (!o->resume.empty()) {
      // A resumed run keeps its settings (that is what makes it exact): refuse flags that would silently not apply.
      for (const CLI::Option* opt : cmd->get_options()) {
        const std::string name = opt->get_name();
        if (opt->count() > 0 && name != "--resume" && name != "--epochs" && name != "--threads" &&
            name != "--progress" && name != "--workers" && name != "--max-image-pixels" && name != "--lr" &&
            name != "--clipnorm" && name != "--profile" && name != "--precision")
          throw CLI::ValidationError(name, "cannot change a run being resumed (only --epochs, --lr, --clipnorm, "
                                           "--threads, --workers, --max-image-pixels, --progress, --profile and --precision "
                                           "can); start a new run with --out instead");
      }
      const nlohmann::json saved = train::read_run_config(o->resume);
      if (!saved.contains("command"))
        throw std::runtime_error(o->resume + "/config.json was not written by `tapegrad train`; resume it from code");
      run = read_saved_settings(saved, (fs::path(o->resume) / "config.json").string());
      if (cmd->count("--epochs")) run.epochs = o->epochs;
      run.threads = o->threads ? o->threads : saved.value("threads", 0);
      run.progress = o->progress;
      if (cmd->count("--workers")) run.workers = o->workers;  // loading threads do not change the results
      // What the advice after a non-finite loss asks for; fit logs the change and keeps it in config.json.
      if (cmd->count("--lr") && run.schedule == "cosine")
        throw CLI::ValidationError("--lr", "cannot change a run with --schedule cosine (the schedule fixes every "
                                           "step's rate); start a new run with --out instead");
      if (cmd->count("--lr")) run.lr = o->lr;
      if (cmd->count("--clipnorm")) run.clipnorm = o->clipnorm;
      // Another precision (say, float32 on a machine without AMX) continues the run, no longer bit-exactly.
      if (cmd->count("--precision")) run.precision = o->precision;
      run.out = o->resume;
    }
    if (group && run.threads == 0) run.threads = distributed::threads_per_process();
    if (run.grad_shards == 0) run.grad_shards = group ? group->size() : 1;
    if (run.threads > 0) set_num_threads(run.threads);
    apply_precision(run.precision);
    run.model.seed = run.seed;
    // --init-from: the file's model, whose input and classes the data follow (a resumed run rebuilds it the same way
    // before its checkpoint's weights replace the file's).
    std::optional<Model> initial;
    if (!run.init_from.empty()) {
      run.init_from = fs::absolute(run.init_from).string();  // config.json must find it from any folder
      initial.emplace(initial_model(run.init_from, run.model, *cmd));
    }
    TrainingData data = make_training_data(run.data, run.model, run.seed);
    Model model = initial ? std::move(*initial) : build_model(run.model);

    train::FitOptions fit;
    fit.epochs = run.epochs;
    fit.batch_size = run.batch;
    fit.steps_per_epoch = run.steps_per_epoch;
    fit.augment = run.data.augment_options();
    fit.workers = run.workers;
    fit.seed = run.seed;
    fit.loss = loss_name(run.loss);
    fit.class_weights = class_weights_for(run.class_weights, data.train, run.model.classes == 1 ? 2 : run.model.classes);
    fit.border_weights = border_weights_for(run.border_weights);
    fit.class_names = run.data.class_name_list(run.model.classes == 1 ? 2 : run.model.classes);
    fit.run_dir = run.out;
    fit.resume = !o->resume.empty();
    fit.overwrite = *overwrite;
    if (run.monitor.empty()) run.monitor = data.validation.dataset ? "val_loss" : "loss";
    fit.monitor = run.monitor;
    fit.keep_last = run.keep_last;
    fit.checkpoint_every = run.checkpoint_every;
    fit.early_stopping_patience = run.patience;
    const int64_t steps = run.steps_per_epoch > 0
                              ? run.steps_per_epoch
                              : static_cast<int64_t>((data.train.size() + run.batch - 1) / run.batch);
    fit.optimizer = optimizer_config(run, steps * run.epochs);
    fit.progress = run.progress == "bar"     ? train::ProgressMode::Bar
                   : run.progress == "lines" ? train::ProgressMode::Lines
                   : run.progress == "none"  ? train::ProgressMode::Off
                                             : train::ProgressMode::Auto;
    fit.extra_config = {{"command", run}, {"predict_fit", data.predict_fit},
                         {"predict_interpolation", data.predict_interpolation}};
    fit.report_title = "tapegrad: " + run.model.model + " on " + run.data.describe();
    fit.report_samples = run.report_samples;
    fit.threads = run.threads;
    fit.handle_signals = true;  // Ctrl-C finishes the step, checkpoints and says how to resume
    fit.profile_steps = *profile;
    fit.gradient_shards = run.grad_shards;
    fit.sync_batch_norm = run.sync_bn;
    fit.collective = group;  // null on its own; under MPI rank 0 alone writes the run folder and the console
    fit.overlap_gradient_sum = distributed::overlap_from_env();
    fit.gradient_bucket_bytes = distributed::bucket_bytes_from_env(fit.gradient_bucket_bytes);
    const fs::path report = fs::path(run.out) / "report.html";
    const train::FitResult result = train::fit(model, data.train, data.validation.dataset ? &data.validation : nullptr, fit);
    if (fs::exists(report) && (!group || group->rank() == 0)) std::cout << "report: " << report.string() << "\n";
    if (result.stop == train::StopReason::Signal) return train::exit_code_for_signal(result.signal);
    return 0;
  });
}

}  // namespace tg::app
