#include "train/fit.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include "autograd/safetensors.h"
#include "autograd/tape.h"
#include "data/loader.h"
#include "data/split.h"
#include "optim/factory.h"
#include "train/checkpoint.h"
#include "train/fit_state.h"
#include "train/logging.h"
#include "train/loss.h"
#include "train/run_dir.h"
#include "train/signals.h"

namespace tg::train {

namespace {

using Clock = std::chrono::steady_clock;

// Settings that decide which numbers a run computes; a resumed run must keep them.
constexpr const char* kIdentityKeys[] = {"batch_size", "steps_per_epoch", "validation_batch_size",
                                         "validation_steps", "shuffle", "augment", "mean", "std", "seed", "loss",
                                         "class_weights", "optimizer", "monitor", "monitor_mode"};

std::string short_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", x);
  return buf;
}

std::vector<size_t> indices_of(const DataSource& s) {
  return s.indices.empty() ? data::all_indices(s.dataset->size()) : s.indices;
}

std::vector<NamedTensor> model_tensors(const Model& model) {
  std::vector<NamedTensor> out;
  for (const Weight& w : model.weights()) out.push_back({w.name, w.variable.value()});
  return out;
}

// Copies every model weight from `tensors`, after checking all of them, so a failure changes nothing.
void copy_weights(Model& model, const std::vector<NamedTensor>& tensors, const std::filesystem::path& from) {
  const std::vector<Weight> weights = model.weights();
  std::vector<const Tensor*> found;
  for (const Weight& w : weights) {
    const Tensor* t = nullptr;
    for (const NamedTensor& nt : tensors)
      if (nt.name == w.name) t = &nt.tensor;
    if (!t) throw CheckpointError(from.string() + ": has no tensor '" + w.name + "' for the model");
    if (t->shape() != w.variable.shape())
      throw CheckpointError(from.string() + ": tensor '" + w.name + "' has shape " + shape_str(t->shape()) +
                            " but the model's weight is " + shape_str(w.variable.shape()));
    found.push_back(t);
  }
  for (size_t i = 0; i < weights.size(); ++i) {
    Tensor value = weights[i].variable.value();
    value.copy_from(*found[i]);
  }
}

std::string resume_hint(const FitOptions& o) {
  return "resume with `tapegrad train --resume " + o.run_dir.string() + "` (or fit with resume = true on that folder)";
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The epoch line: loss and the headline metrics; per-class values are in metrics.csv.
std::string epoch_summary(const EpochRecord& r, int64_t epochs) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1fs", r.seconds);
  std::string line = "Epoch " + std::to_string(r.epoch) + "/" + std::to_string(epochs) + " - " + seconds;
  for (const std::string& name : ordered_metric_names(r.metrics)) {
    const std::string base = name.rfind("val_", 0) == 0 ? name.substr(4) : name;
    if (base == "loss" || base == "pixel_accuracy" || base == "mean_iou" || base == "mean_dice")
      line += " - " + name + ": " + short_number(r.metrics.at(name));
  }
  char lr[32];
  std::snprintf(lr, sizeof lr, "%.4g", r.learning_rate);
  return line + " - lr: " + lr;
}

MetricLogs running_display(const FitState& s) {
  MetricLogs m;
  if (s.samples == 0) return m;
  m["loss"] = s.loss_sum / static_cast<double>(s.samples);
  m["pixel_accuracy"] = s.confusion.pixel_accuracy();
  m["mean_iou"] = s.confusion.mean_iou();
  return m;
}

class Trainer {
 public:
  Trainer(Model& model, const DataSource& train, const DataSource* validation, const FitOptions& options)
      : model_(model), train_(train), validation_(validation), options_(options), run_(options.run_dir) {}

  FitResult run();

 private:
  void check_inputs();
  void prepare_run_folder();
  void restore(const Checkpoint& checkpoint);
  void write_config() const;
  void save(bool best);
  FitResult finish(StopReason stop, int signal, std::string message);
  void train_step(const data::Batch& batch, int64_t steps_per_epoch);
  bool end_epoch(double seconds);  // true: stop early

  Model& model_;
  const DataSource& train_;
  const DataSource* validation_;
  FitOptions options_;
  RunDir run_;
  RunLogger logger_;
  std::optional<TrainingLoss> loss_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<data::DataLoader> loader_;
  std::optional<MetricLog> metric_log_;
  FitState state_;
  std::vector<Tensor> best_weights_;  // in memory, for restore_best_weights
  std::string monitor_note_;
  int threads_ = 1;
};

void Trainer::check_inputs() {
  if (!train_.dataset) throw std::invalid_argument("fit: no training dataset");
  if (options_.epochs < 1) throw std::invalid_argument("fit: epochs must be at least 1");
  if (options_.batch_size < 1) throw std::invalid_argument("fit: batch_size must be at least 1");
  if (options_.keep_last < 0) throw std::invalid_argument("fit: keep_last must be >= 0");
  if (options_.resume && options_.run_dir.empty())
    throw std::invalid_argument("fit: resume needs the run folder (run_dir) to continue from");
  const data::DatasetSpec& spec = train_.dataset->spec();
  const Shape in = model_.input_shape();
  if (in != Shape{spec.height, spec.width, spec.channels})
    throw std::invalid_argument("fit: the model takes inputs of " + shape_str(in) + " but the training data is [" +
                                std::to_string(spec.height) + ", " + std::to_string(spec.width) + ", " +
                                std::to_string(spec.channels) + "]; build the model for the data's size");
  if (validation_ && validation_->dataset) {
    const data::DatasetSpec& v = validation_->dataset->spec();
    if (v.height != spec.height || v.width != spec.width || v.channels != spec.channels ||
        v.num_classes != spec.num_classes)
      throw std::invalid_argument("fit: the validation data differs from the training data in size, channels or "
                                  "classes");
  }
  loss_.emplace(options_.loss, model_, spec.num_classes, spec.ignore_index, options_.class_weights);
  const bool has_validation = validation_ && validation_->dataset;
  if (!has_validation && options_.monitor.rfind("val_", 0) == 0) {
    monitor_note_ = "No validation data: monitoring '" + options_.monitor.substr(4) + "' instead of '" +
                    options_.monitor + "'";
    options_.monitor = options_.monitor.substr(4);
  }
  const std::vector<std::string> names = metric_names(loss_->metric_classes(), has_validation);
  const auto known = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  if (!known(options_.monitor))
    throw std::invalid_argument("fit: monitor '" + options_.monitor + "' is not a metric this run logs; choose one of " +
                                join(names));
  state_.monitor = options_.monitor;
  state_.maximize = metric_is_maximized(options_.monitor, options_.monitor_mode);
  state_.best = state_.stopping_best =
      state_.maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  state_.confusion = ConfusionMatrix(loss_->metric_classes(), spec.ignore_index);
}

void Trainer::write_config() const {
  nlohmann::json config = {
      {"tapegrad_version", TAPEGRAD_VERSION},
      {"fit", options_.to_json()},
      {"model", model_.config()},
      {"threads", threads_},
      {"data",
       {{"train_samples", indices_of(train_).size()},
        {"validation_samples", validation_ && validation_->dataset ? indices_of(*validation_).size() : 0},
        {"height", train_.dataset->spec().height},
        {"width", train_.dataset->spec().width},
        {"channels", train_.dataset->spec().channels},
        {"num_classes", train_.dataset->spec().num_classes},
        {"ignore_index", train_.dataset->spec().ignore_index}}}};
  for (const auto& [key, value] : options_.extra_config.items()) config[key] = value;
  write_file_atomically(run_.config(), config.dump(2) + "\n");
}

void Trainer::prepare_run_folder() {
  if (options_.run_dir.empty()) return;
  if (!options_.resume && run_.has_checkpoint())
    throw std::invalid_argument("fit: " + run_.root.string() + " already holds a run (" +
                                run_.checkpoints().string() + "); resume it, or choose a new run folder");
  std::filesystem::create_directories(run_.checkpoints());
  remove_stale_temporaries(run_);
}

void Trainer::restore(const Checkpoint& checkpoint) {
  if (checkpoint.model_config != model_.config())
    throw std::invalid_argument("fit: the model differs from the one " + run_.root.string() +
                                " was trained with; rebuild it from the run (load_model or "
                                "Model::from_config(read_run_config(run_dir)[\"model\"]))");
  const nlohmann::json& saved = checkpoint.state;
  const nlohmann::json now = options_.to_json();
  std::vector<std::string> changed;
  for (const char* key : kIdentityKeys)
    if (saved.at("fit").value(key, nlohmann::json()) != now.at(key))
      changed.push_back(std::string(key) + " (was " + saved.at("fit").value(key, nlohmann::json()).dump() + ", now " +
                        now.at(key).dump() + ")");
  if (!changed.empty())
    throw std::invalid_argument("fit: cannot resume " + run_.root.string() + " with other settings: " + join(changed) +
                                "; resume with the run's settings (config.json) or start a new run");
  FitState restored = FitState::from_json(saved);
  copy_weights(model_, checkpoint.tensors, checkpoint.path);
  OptimizerState opt_state{{}, saved.at("optimizer")};
  for (const NamedTensor& t : checkpoint.tensors)
    if (t.name.rfind("optimizer/", 0) == 0) opt_state.tensors.push_back(t);
  optimizer_->load_state(opt_state);
  loader_->load_state(saved.at("loader"));
  if (loader_->global_step() != restored.global_step)
    throw CheckpointError(checkpoint.path.string() + ": the loader is at step " +
                          std::to_string(loader_->global_step()) + " but the run at " +
                          std::to_string(restored.global_step));
  state_ = std::move(restored);
  const int saved_threads = saved.value("threads", threads_);
  if (saved_threads != threads_)
    logger_.log->warn("This run started with {} threads and resumes with {}; tapegrad's reductions do not depend on "
                      "the thread count, but bit-identical results are only promised for the same count",
                      saved_threads, threads_);
}

void Trainer::save(bool best) {
  if (options_.run_dir.empty()) return;
  Checkpoint c;
  c.tensors = model_tensors(model_);
  OptimizerState opt = optimizer_->state();
  for (NamedTensor& t : opt.tensors) c.tensors.push_back(std::move(t));
  c.model_config = model_.config();
  const RngState dropout = model_.rng().state();
  c.state = state_.to_json({{"optimizer", opt.scalars},
                            {"loader", loader_->state()},
                            {"rng",
                             {{"shuffle_and_augment", {{"seed", options_.seed}, {"rule", "pure function of (seed, epoch, position)"}}},
                              {"dropout", {{"seed", dropout.seed}, {"counter", dropout.counter},
                                           {"stream", kDropoutStream}, {"rule", "Rng::derive(seed, stream, global_step)"}}}}},
                            {"fit", options_.to_json()},
                            {"threads", threads_}});
  write_run_checkpoint(run_, c, state_.global_step, best, options_.keep_last);
}

void Trainer::train_step(const data::Batch& batch, int64_t steps_per_epoch) {
  model_.rng() = Rng::derive(options_.seed, kDropoutStream, static_cast<uint64_t>(state_.global_step));
  optimizer_->zero_grad();
  const Variable outputs = loss_->outputs(model_, Variable(batch.images));
  Variable loss = (*loss_)(outputs, batch.labels);
  const double value = loss.item();
  if (!std::isfinite(value)) {
    Tape::current().clear();
    std::string samples;
    for (size_t i = 0; i < batch.indices.size() && i < 16; ++i)
      samples += (i ? ", " : "") + train_.dataset->name(batch.indices[i]);
    if (batch.indices.size() > 16) samples += ", ...";
    std::string where = "the loss is " + format_number(value) + " at epoch " + std::to_string(state_.epoch + 1) +
                        ", step " + std::to_string(state_.step + 1) + "/" + std::to_string(steps_per_epoch) +
                        " (global step " + std::to_string(state_.global_step + 1) + "), on the batch of samples [" +
                        samples + "]; training stopped";
    where += options_.run_dir.empty() || !run_.has_checkpoint()
                 ? ". "
                 : " and the last good checkpoint " + run_.last_checkpoint().string() + " is untouched. ";
    where += "Lower the learning rate or set the optimizer's global_clipnorm, check those samples, and resume.";
    throw NonFiniteLossError(where, state_.global_step, batch.indices);
  }
  loss.backward();
  optimizer_->step();
  optimizer_->zero_grad();
  state_.loss_sum += value * static_cast<double>(batch.size());
  state_.samples += batch.size();
  state_.confusion.add(outputs.value(), batch.labels, loss_->binary_threshold());
  ++state_.step;
  ++state_.global_step;
  if (options_.on_step_end) options_.on_step_end({state_.epoch, state_.step, state_.global_step, value});
}

bool Trainer::end_epoch(double seconds) {
  EpochRecord record;
  record.epoch = state_.epoch + 1;
  record.global_step = state_.global_step;
  record.learning_rate = optimizer_->schedule()(std::max<int64_t>(state_.global_step - 1, 0));
  record.seconds = seconds;
  record.metrics = state_.confusion.metrics();
  record.metrics["loss"] = state_.loss_sum / static_cast<double>(std::max<int64_t>(state_.samples, 1));
  if (validation_ && validation_->dataset) {
    EvaluateOptions eo;
    eo.batch_size = options_.validation_batch_size > 0 ? options_.validation_batch_size : options_.batch_size;
    eo.steps = options_.validation_steps;
    eo.loss = options_.loss;
    eo.class_weights = options_.class_weights;
    eo.mean = options_.mean;
    eo.std = options_.std;
    eo.workers = options_.workers;
    for (auto& [name, value] : evaluate(model_, *validation_, eo, "val_")) record.metrics[name] = value;
  }
  if (optimizer_->schedule().on_epoch_end(record.metrics))
    logger_.log->info("{} reduced the learning rate to {}", optimizer_->schedule().config().value("name", "schedule"),
                      format_number(optimizer_->learning_rate()));

  const double current = record.metrics.at(state_.monitor);
  const bool improved = state_.maximize ? current > state_.best : current < state_.best;
  std::string note;
  if (improved) {
    note = " - " + state_.monitor + " improved from " + short_number(state_.best) + " to " + short_number(current);
    state_.best = current;
    state_.best_epoch = record.epoch;
  }
  // Keras's EarlyStopping.on_epoch_end (its best includes min_delta, so it can differ from the best checkpoint's).
  bool stop = false;
  if (options_.early_stopping_patience > 0) {
    ++state_.stopping_wait;
    const double d = options_.early_stopping_min_delta;
    const bool better = state_.maximize ? current - d > state_.stopping_best : current + d < state_.stopping_best;
    if (better) {
      state_.stopping_best = current;
      state_.stopping_best_epoch = record.epoch;
      state_.stopping_wait = 0;
      if (options_.restore_best_weights) {
        best_weights_.clear();
        for (const Weight& w : model_.weights()) best_weights_.push_back(w.variable.value().clone());
      }
    } else if (state_.stopping_wait >= options_.early_stopping_patience && state_.epoch > 0) {
      stop = true;
    }
  }

  state_.history.push_back(record);
  if (metric_log_) metric_log_->append(record);
  ++state_.epoch;
  state_.step = 0;
  state_.reset_epoch_sums();
  save(improved);
  logger_.log->info("{}{}", epoch_summary(record, options_.epochs), note);
  if (options_.on_epoch_end) options_.on_epoch_end({record, state_.history, model_, options_, improved});
  return stop;
}

FitResult Trainer::finish(StopReason stop, int signal, std::string message) {
  FitResult r;
  r.history = state_.history;
  r.epochs_completed = state_.epoch;
  r.global_step = state_.global_step;
  r.stop = stop;
  r.signal = signal;
  r.monitor = state_.monitor;
  r.best_value = state_.best;
  r.best_epoch = state_.best_epoch;
  if (!options_.run_dir.empty()) {
    if (std::filesystem::exists(run_.last_checkpoint())) r.last_checkpoint = run_.last_checkpoint();
    if (std::filesystem::exists(run_.best_checkpoint())) r.best_checkpoint = run_.best_checkpoint();
  }
  r.message = std::move(message);
  if (!r.message.empty()) logger_.log->info("{}", r.message);
  return r;
}

FitResult Trainer::run() {
  threads_ = omp_get_max_threads();
  check_inputs();
  prepare_run_folder();
  logger_ = make_run_logger(options_.run_dir.empty() ? std::filesystem::path() : run_.log(), options_.console);

  optimizer_ = make_optimizer(options_.optimizer, model_.parameters());
  if (const std::string m = optimizer_->schedule().monitor(); !m.empty()) {
    const auto names = metric_names(loss_->metric_classes(), validation_ && validation_->dataset);
    if (std::find(names.begin(), names.end(), m) == names.end())
      throw std::invalid_argument("fit: the learning-rate schedule monitors '" + m +
                                  "', which this run does not log; choose one of " + join(names));
  }

  data::LoaderOptions lo;
  lo.batch_size = options_.batch_size;
  lo.shuffle = options_.shuffle;
  lo.seed = options_.seed;
  lo.workers = options_.workers;
  lo.augment = options_.augment;
  lo.mean = options_.mean;
  lo.std = options_.std;
  loader_ = std::make_unique<data::DataLoader>(train_.dataset, indices_of(train_), lo);
  const int64_t steps_per_epoch = options_.steps_per_epoch > 0 ? options_.steps_per_epoch : loader_->steps_per_epoch();

  if (options_.resume) {
    std::vector<std::string> skipped;
    const Checkpoint checkpoint = load_latest_checkpoint(run_, &skipped);
    for (const std::string& s : skipped) logger_.log->warn("Skipping an unreadable checkpoint: {}", s);
    restore(checkpoint);
    logger_.log->info("Resuming {} from {} at epoch {}, step {} (global step {})", run_.root.string(),
                      checkpoint.path.filename().string(), state_.epoch + 1, state_.step, state_.global_step);
  }
  if (!options_.run_dir.empty()) {
    write_config();
    metric_log_.emplace(run_.metrics_csv(), run_.metrics_jsonl());
    metric_log_->rewrite(state_.history);  // drops rows a killed run logged after its last checkpoint
  }
  logger_.log->info("Training '{}' ({} parameters) on {} samples{}, {} steps per epoch of batch {}, {} with loss {}, "
                    "seed {}, {} threads{}",
                    model_.name(), model_.count_params(), indices_of(train_).size(),
                    validation_ && validation_->dataset
                        ? " (" + std::to_string(indices_of(*validation_).size()) + " for validation)"
                        : std::string(),
                    steps_per_epoch, options_.batch_size, optimizer_->name(), loss_->name(), options_.seed, threads_,
                    options_.run_dir.empty() ? std::string() : ", run folder " + run_.root.string());
  if (!monitor_note_.empty()) logger_.log->info("{}", monitor_note_);
  if (state_.epoch >= options_.epochs)
    return finish(StopReason::Completed, 0,
                  "The run already has " + std::to_string(state_.epoch) + " epochs; ask for more epochs to continue");

  std::optional<StopSignalHandler> signals;
  if (options_.handle_signals) signals.emplace();
  Progress progress(options_.progress, options_.progress_interval_seconds, stdout,
                    [this](const std::string& s) { logger_.log->info("{}", s); },
                    [this](const std::string& s) { logger_.file_only->info("{}", s); });
  model_.train();
  while (state_.epoch < options_.epochs) {
    const auto epoch_start = Clock::now();
    progress.begin_epoch(state_.epoch + 1, options_.epochs, steps_per_epoch, state_.step);
    while (state_.step < steps_per_epoch) {
      const data::Batch batch = loader_->next();
      train_step(batch, steps_per_epoch);
      progress.update(state_.step, batch.size(), running_display(state_));
      if (state_.step == steps_per_epoch) break;
      if (stop_requested()) {
        progress.end_epoch();
        const int sig = stop_signal();
        clear_stop_request();
        save(false);
        return finish(StopReason::Signal, sig,
                      std::string("Stopped by ") + signal_name(sig) + " at epoch " + std::to_string(state_.epoch + 1) +
                          ", step " + std::to_string(state_.step) + " (global step " +
                          std::to_string(state_.global_step) + ")" +
                          (options_.run_dir.empty() ? "" : "; checkpoint written, " + resume_hint(options_)));
      }
      if (options_.checkpoint_every > 0 && state_.global_step % options_.checkpoint_every == 0) save(false);
    }
    progress.end_epoch();
    const bool early = end_epoch(std::chrono::duration<double>(Clock::now() - epoch_start).count());
    if (early) {
      const int64_t best_epoch = state_.stopping_best_epoch;
      std::string message = "Early stopping: " + state_.monitor + " did not improve for " +
                            std::to_string(options_.early_stopping_patience) + " epochs (best " +
                            short_number(state_.stopping_best) + " at epoch " + std::to_string(best_epoch) + ")";
      if (options_.restore_best_weights) {
        if (!best_weights_.empty()) {
          const std::vector<Weight> weights = model_.weights();
          for (size_t i = 0; i < weights.size(); ++i) {
            Tensor v = weights[i].variable.value();
            v.copy_from(best_weights_[i]);
          }
          message += "; restored the weights of epoch " + std::to_string(best_epoch);
        } else if (state_.best_epoch == best_epoch && std::filesystem::exists(run_.best_checkpoint())) {
          const Checkpoint best = load_checkpoint(run_.best_checkpoint());
          copy_weights(model_, best.tensors, best.path);
          message += "; restored the weights of epoch " + std::to_string(best_epoch) + " from " +
                     run_.best_checkpoint().string();
        } else {
          message += "; the weights of epoch " + std::to_string(best_epoch) +
                     " were not kept across the resume, so the last weights stay";
        }
      }
      return finish(StopReason::EarlyStopping, 0, message);
    }
    if (stop_requested() && state_.epoch < options_.epochs) {
      const int sig = stop_signal();
      clear_stop_request();
      return finish(StopReason::Signal, sig,
                    std::string("Stopped by ") + signal_name(sig) + " after epoch " + std::to_string(state_.epoch) +
                        (options_.run_dir.empty() ? "" : "; checkpoint written, " + resume_hint(options_)));
    }
  }
  clear_stop_request();  // a signal during the very last step: the run is complete anyway
  return finish(StopReason::Completed, 0,
                "Finished " + std::to_string(state_.epoch) + " epochs; best " + state_.monitor + " " +
                    short_number(state_.best) + " at epoch " + std::to_string(state_.best_epoch));
}

}  // namespace

FitResult fit(Model& model, const DataSource& train, const DataSource* validation, const FitOptions& options) {
  Trainer trainer(model, train, validation, options);
  return trainer.run();
}

nlohmann::json read_run_config(const std::filesystem::path& run_dir) {
  const RunDir run(run_dir);
  std::ifstream in(run.config());
  if (!in)
    throw std::runtime_error(run.config().string() + " is missing; is " + run_dir.string() +
                             " a tapegrad run folder (made by fit)?");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(run.config().string() + ": not valid JSON: " + e.what());
  }
}

}  // namespace tg::train
