#include "train/fit.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

#include "autograd/io/safetensors.h"
#include "autograd/parallel.h"
#include "autograd/profiler.h"
#include "data/loader.h"
#include "optim/factory.h"
#include "optim/json_options.h"
#include "train/checkpoint.h"
#include "train/fit_profile.h"
#include "train/fit_state.h"
#include "train/logging.h"
#include "train/loss.h"
#include "train/mode_guard.h"
#include "train/progress.h"
#include "train/report.h"
#include "train/run_checkpoint.h"
#include "train/run_config.h"
#include "train/run_dir.h"
#include "train/sharded_step.h"
#include "train/signals.h"
#include "train/validation.h"

namespace tg::train {

namespace {

using Clock = std::chrono::steady_clock;

// The thread count for the scope of a fit with FitOptions::threads, then back to what it was.
class ThreadCountGuard {
 public:
  explicit ThreadCountGuard(int threads) : previous_(num_threads()), changed_(threads > 0) {
    if (changed_) set_num_threads(threads);
  }
  ~ThreadCountGuard() {
    if (changed_) set_num_threads(previous_);
  }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int previous_;
  bool changed_;
};

// With the optimizer's use_ema, the averaged weights in the model for a scope, then the trained ones back (a swap of
// contents, no allocation). Nested scopes are harmless: only the outermost one swaps.
//
// fit validates, picks the best checkpoint and writes every checkpoint's model tensors with the averages (as timm's
// ModelEma is used), where Keras validates the raw weights unless ema_overwrite_frequency copies the averages over
// them: the averages are what the run delivers (Keras's fit ends with them too), so they are what the best epoch and
// `tapegrad evaluate/predict/export` of any checkpoint should see. The raw weights travel in the checkpoint's
// optimizer state ("optimizer/<weight>/training_weight"), so a resumed run trains on exactly the weights it left.
class AveragedWeights {
 public:
  explicit AveragedWeights(Optimizer& optimizer) : optimizer_(optimizer), swapped_(!optimizer.averages_swapped()) {
    if (swapped_) optimizer_.swap_averages();
  }
  ~AveragedWeights() {
    if (swapped_ && optimizer_.averages_swapped()) optimizer_.swap_averages();
  }
  AveragedWeights(const AveragedWeights&) = delete;
  AveragedWeights& operator=(const AveragedWeights&) = delete;

 private:
  Optimizer& optimizer_;
  bool swapped_;
};

std::string resume_hint(const FitOptions& o) {
  return "resume with `tapegrad train --resume " + o.run_dir.string() + "` (or fit with resume = true on that folder)";
}

class Trainer {
 public:
  Trainer(Model& model, const DataSource& train, const DataSource* validation, const FitOptions& options)
      : model_(model), options_(options), run_(options.run_dir), profile_(options.profile_steps) {
    if (!train.dataset) throw std::invalid_argument("fit: no training dataset");
    TrainAndValidation data = resolve_validation(train, validation, options);
    train_ = std::move(data.train);
    validation_ = std::move(data.validation);
    if (options.border_weights)  // the map holds the class weights; validation uses neither (as Keras's class_weight)
      train_.dataset = std::make_shared<data::WeightMapDataset>(train_.dataset, *options.border_weights,
                                                                options.class_weights);
  }

  FitResult run();
  FitResult logged_run();  // run() once the log is open

 private:
  // What every process agrees on at the end of a step: stop, and why.
  struct StopVote {
    int signal = 0;  // the signal that asked (the highest number when several processes were signalled)
    bool hook = false;
    bool stop() const { return signal != 0 || hook; }
  };
  bool has_validation() const { return validation_.dataset != nullptr; }
  // Whether this process writes the run folder and the console: the only process, or rank 0 of a group.
  bool writes() const { return owns_outputs_ && !options_.run_dir.empty(); }
  // The processes training together; null alone (no collective, or a group of one).
  Collective* group() const {
    return options_.collective && options_.collective->size() > 1 ? options_.collective.get() : nullptr;
  }
  StopVote vote_on_stop();
  void check_group_agrees();
  void check_inputs();
  void check_monitors();
  void check_sync_batch_norm() const;
  void agree_on_moving_statistics();
  void prepare_run_folder();
  void start_components();
  void resume();
  void record_setting_changes(const std::vector<SettingChange>& changes);
  void save(bool best);
  FitResult finish(StopReason stop, int signal, std::string message);
  void step(const data::Batch& batch);
  void report_profile(const std::string& table);  // logs the table and writes RUN_DIR/profile.txt
  bool end_epoch(double seconds);  // true: stop (early stopping or a hook)
  std::string stopped_at() const;

  Model& model_;
  DataSource train_, validation_;
  FitOptions options_;
  RunDir run_;
  std::optional<RunLock> lock_;  // held from prepare_run_folder until fit returns
  RunLogger logger_;
  std::optional<TrainingLoss> loss_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<data::DataLoader> loader_;
  std::optional<MetricLog> metric_log_;
  std::optional<EarlyStopping> early_stopping_;
  FitState state_;
  int64_t steps_per_epoch_ = 0;
  bool hook_stop_ = false;  // a step hook set stop_training
  std::string monitor_note_, model_summary_;
  // The report's augmented samples: a pure function of the seed and the training data, drawn at the first report.
  std::optional<std::vector<ReportSample>> augmented_;
  int threads_ = 1;
  FitProfile profile_;
  bool owns_outputs_ = true;
  std::optional<ShardedStep> sharded_;  // gradient_shards > 1 or a group of processes
};

void Trainer::check_inputs() {
  if (options_.epochs < 1) throw std::invalid_argument("fit: epochs must be at least 1");
  if (options_.batch_size < 1) throw std::invalid_argument("fit: batch_size must be at least 1");
  if (options_.keep_last < 0) throw std::invalid_argument("fit: keep_last must be >= 0");
  if (options_.profile_steps < 0) throw std::invalid_argument("fit: profile_steps must be >= 0");
  if (options_.gradient_shards < 1) throw std::invalid_argument("fit: gradient_shards must be at least 1");
  check_sync_batch_norm();
  if (options_.resume && options_.run_dir.empty())
    throw std::invalid_argument("fit: resume needs the run folder (run_dir) to continue from");
  const data::DatasetSpec& spec = train_.dataset->spec();
  const Shape in = model_.input_shape();
  if (in != Shape{spec.height, spec.width, spec.channels})
    throw std::invalid_argument("fit: the model takes inputs of " + shape_str(in) + " but the training data is [" +
                                std::to_string(spec.height) + ", " + std::to_string(spec.width) + ", " +
                                std::to_string(spec.channels) + "]; build the model for the data's size");
  if (has_validation()) {
    const data::DatasetSpec& v = validation_.dataset->spec();
    if (v.height != spec.height || v.width != spec.width || v.channels != spec.channels ||
        v.num_classes != spec.num_classes)
      throw std::invalid_argument("fit: the validation data differs from the training data in size, channels or "
                                  "classes");
  }
  loss_.emplace(options_.loss, model_, spec.num_classes, spec.ignore_index, options_.class_weights);
  if (options_.border_weights && !loss_->takes_pixel_weights())
    throw std::invalid_argument("fit: border_weights weight a crossentropy, but the loss is '" + loss_->name() +
                                "'; use a crossentropy or crossentropy+dice loss");
}

// Under sync_batch_norm each process takes part in every BatchNormalization's sums with the statistics of its samples,
// so every batch must give each process at least one: process r of N holds samples [r n / N, (r + 1) n / N).
void Trainer::check_sync_batch_norm() const {
  const Collective* g = group();
  if (!options_.sync_batch_norm || !g) return;
  const auto processes = static_cast<int64_t>(g->size());
  const int64_t last = options_.drop_last ? 0 : static_cast<int64_t>(train_.size()) % options_.batch_size;
  if (options_.batch_size < processes || (last > 0 && last < processes))
    throw std::invalid_argument(
        "fit: sync_batch_norm (--sync-bn) needs every batch to give each of the " + std::to_string(processes) +
        " processes a sample, but " +
        (options_.batch_size < processes ? "batch_size (--batch) is " + std::to_string(options_.batch_size)
                                         : "the last batch of an epoch holds " + std::to_string(last) + " of the " +
                                               std::to_string(train_.size()) + " training samples") +
        "; choose a batch size whose batches, the last of an epoch included, hold at least " +
        std::to_string(processes) + " samples, or run fewer processes");
}

// The metrics that pick the best checkpoint, stop early and drive the schedule must be ones this run logs.
void Trainer::check_monitors() {
  if (!has_validation() && options_.monitor.rfind("val_", 0) == 0) {
    monitor_note_ = "No validation data: monitoring '" + options_.monitor.substr(4) + "' instead of '" +
                    options_.monitor + "'";
    options_.monitor = options_.monitor.substr(4);
  }
  const std::vector<std::string> names = metric_names(loss_->metric_classes(), has_validation());
  const auto known = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  if (!known(options_.monitor))
    throw std::invalid_argument("fit: monitor '" + options_.monitor + "' is not a metric this run logs; choose one of " +
                                join_names(names));
  if (const std::string m = optimizer_->schedule().monitor(); !m.empty() && !known(m))
    throw std::invalid_argument("fit: the learning-rate schedule monitors '" + m +
                                "', which this run does not log; choose one of " + join_names(names));
}

void Trainer::prepare_run_folder() {
  if (!writes()) return;
  lock_.emplace(run_);  // before looking: two processes starting together must not both see an empty folder
  if (options_.resume && options_.overwrite)
    throw std::invalid_argument("fit: resume and overwrite exclude each other (" + run_.root.string() + ")");
  if (!options_.resume) {
    const std::vector<std::filesystem::path> earlier = run_.run_files();
    if (!earlier.empty() && !options_.overwrite)
      throw std::invalid_argument("fit: " + run_.root.string() + " already holds a run (" + earlier.front().string() +
                                  (earlier.size() > 1 ? " and " + std::to_string(earlier.size() - 1) + " more" : "") +
                                  "); resume it, choose a new run folder, or set FitOptions::overwrite to replace it");
    for (const std::filesystem::path& p : earlier) std::filesystem::remove(p);
  }
  std::filesystem::create_directories(run_.checkpoints());
  remove_stale_temporaries(run_);
}

// The optimizer over the trainable weights, the loader of the training batches, the monitor and early stopping.
void Trainer::start_components() {
  optimizer_ = make_optimizer(options_.optimizer, model_.parameters());
  check_monitors();
  data::LoaderOptions loading = options_;
  if (options_.gradient_shards > 1 || group()) {
    const ShardPlan plan = ShardPlan::for_process(options_.gradient_shards, group() ? group()->rank() : 0,
                                                  group() ? group()->size() : 1);
    loading.slice_first = plan.first;
    loading.slice_end = plan.end;
    loading.slice_parts = plan.shards;
    // Every process must make the same calls on the group: rank 0's choice holds for all, and no process overlaps
    // unless every one's group can be called from the communication thread.
    const bool overlap = options_.overlap_gradient_sum.value_or(group() && group()->spans_machines());
    int64_t bucket_bytes = overlap ? std::max<int64_t>(options_.gradient_bucket_bytes, 1) : 0;
    if (group()) {
      group()->broadcast(std::as_writable_bytes(std::span<int64_t>(&bucket_bytes, 1)), 0);
      int64_t unable = group()->callable_from_another_thread() ? 0 : 1;
      group()->max(std::span<int64_t>(&unable, 1));
      if (unable) bucket_bytes = 0;
    }
    sharded_.emplace(*optimizer_, plan, group(), options_.sync_batch_norm, bucket_bytes);
  }
  loader_ = std::make_unique<data::DataLoader>(train_.dataset, train_.sample_indices(), loading);
  steps_per_epoch_ = options_.steps_per_epoch > 0 ? options_.steps_per_epoch : loader_->steps_per_epoch();
  state_.monitor = BestMetric(options_.monitor, options_.monitor_mode);
  early_stopping_.emplace(options_.early_stopping_patience, options_.early_stopping_min_delta, state_.monitor.maximize,
                          options_.restore_best_weights);
  state_.stopping = early_stopping_->initial_state();
  state_.confusion = ConfusionMatrix(loss_->metric_classes(), train_.dataset->spec().ignore_index);
}

void Trainer::resume() {
  std::vector<std::string> skipped;
  const Checkpoint checkpoint = load_latest_checkpoint(run_, &skipped);
  for (const std::string& s : skipped) logger_.log->warn("Skipping an unreadable checkpoint: {}", s);
  std::vector<SettingChange> changes;
  state_ = restore_run_checkpoint(checkpoint, model_, *optimizer_, *loader_, options_, run_.root, &changes);
  record_setting_changes(changes);
  const int saved_threads = checkpoint.state.value("threads", threads_);
  if (saved_threads != threads_)
    logger_.log->info("This run started with {} threads and resumes with {}; the results do not depend on the "
                      "thread count (every reduction has a fixed order)",
                      saved_threads, threads_);
  logger_.log->info("Resuming {} from {} at epoch {}, step {} (global step {})", run_.root.string(),
                    checkpoint.path.filename().string(), state_.epoch + 1, state_.step, state_.global_step);
}

// A resumed run's new learning rate or clipping, in log.txt and in config.json's "settings_changes" (kept across
// resumes), so the run can be reproduced.
void Trainer::record_setting_changes(const std::vector<SettingChange>& changes) {
  nlohmann::json history = nlohmann::json::array();
  if (const nlohmann::json saved = read_run_config(run_.root); saved.contains("settings_changes") &&
                                                               saved.at("settings_changes").is_array())
    history = saved.at("settings_changes");
  for (const SettingChange& c : changes) {
    logger_.log->info("From global step {} on, {} is {} (was {})", state_.global_step, c.name, c.now, c.was);
    history.push_back({{"global_step", state_.global_step}, {"setting", c.name}, {"was", c.was}, {"now", c.now}});
  }
  if (!history.empty()) options_.extra_config["settings_changes"] = history;
}

void Trainer::save(bool best) {
  if (!writes()) return;
  const AveragedWeights averaged(*optimizer_);
  write_run_checkpoint(run_, make_run_checkpoint(model_, *optimizer_, *loader_, state_, options_, threads_),
                       state_.global_step, best, options_.keep_last);
}

void Trainer::step(const data::Batch& batch) {
  ConfusionMatrix batch_confusion(state_.confusion.num_classes(), train_.dataset->spec().ignore_index);
  const StepResult result =
      sharded_ ? (*sharded_)(model_, *loss_, *optimizer_, batch, options_.seed, state_.global_step, batch_confusion)
               : train_step(model_, *loss_, *optimizer_, batch, options_.seed, state_.global_step);
  if (!result.applied())
    throw non_finite_loss_error(result.loss, batch, *train_.dataset,
                                {state_.epoch, state_.step, steps_per_epoch_, state_.global_step},
                                options_.run_dir.empty() || !run_.has_checkpoint() ? std::filesystem::path()
                                                                                    : run_.last_checkpoint());
  {
    const profiler::Region region("training metrics");
    if (sharded_)
      state_.add_counted_batch(result.loss, batch.full_size, batch_confusion);
    else
      state_.add_batch(result.loss, batch.size(), result.outputs, batch.labels, loss_->binary_threshold());
  }
  agree_on_moving_statistics();
  ++state_.step;
  ++state_.global_step;
  if (options_.on_step_end) {
    StepEnd end{state_.epoch, state_.step, state_.global_step, result.loss};
    options_.on_step_end(end);
    hook_stop_ = hook_stop_ || end.stop_training;
  }
}

// Without sync_batch_norm batch statistics are each process's own (as PyTorch's DDP) and the moving statistics
// become rank 0's everywhere, so validation and the checkpoint see one model. With it every process computed the
// whole batch's: rank 0's copy checks that they agree, bit for bit.
void Trainer::agree_on_moving_statistics() {
  Collective* g = group();
  if (!g) return;
  for (const Weight& w : model_.non_trainable_weights()) {
    Tensor value = w.variable.value();  // shares the weight's storage
    Tensor rank0 = options_.sync_batch_norm ? value.clone() : value;
    g->broadcast(std::span<std::byte>(rank0.bytes(), rank0.nbytes()), 0);
    if (options_.sync_batch_norm && std::memcmp(rank0.bytes(), value.bytes(), value.nbytes()) != 0)
      throw std::runtime_error("fit: with sync_batch_norm (--sync-bn), process " + std::to_string(g->rank()) +
                               "'s " + w.name + " differs from rank 0's after global step " +
                               std::to_string(state_.global_step + 1) + "; every process must run the same build "
                               "with the same kernels (TAPEGRAD_ISA set alike on every host)");
  }
}

void Trainer::report_profile(const std::string& table) {
  if (table.empty()) return;
  std::string text = table;
  if (sharded_ && sharded_->overlapped()) {
    const OverlapCounts c = sharded_->overlap_counts();
    text += "\nGradient sum overlapped with the backward pass, over " + std::to_string(c.steps) + " steps so far: " +
            std::to_string(sharded_->buckets()) + " buckets per step of at least " +
            std::to_string(options_.gradient_bucket_bytes) + " bytes; " + std::to_string(c.handed_early) +
            " buckets handed to the communication thread before backward ended, " +
            std::to_string(c.started_early) + " begun by it before then\n";
  } else if (group() && group()->size() > 1) {
    text += "\nGradient sum after the backward pass, not during it (FitOptions::overlap_gradient_sum, "
            "TAPEGRAD_MPI_OVERLAP=1: by default only when the processes span machines)\n";
  }
  logger_.log->info("Profile of training steps up to global step {}:\n{}", state_.global_step, text);
  if (writes()) write_file_atomically(run_.profile(), text);
}

bool Trainer::end_epoch(double seconds) {
  EpochRecord record;
  record.epoch = state_.epoch + 1;
  record.global_step = state_.global_step;
  record.learning_rate = optimizer_->schedule()(std::max<int64_t>(state_.global_step - 1, 0));
  record.seconds = seconds;
  record.metrics = state_.epoch_metrics();
  ConfusionMatrix confusion = state_.confusion;  // the report's heat map: validation's when there is validation
  // Validation, the best checkpoint (and early stopping's copy of it), the report and the hook see the averages.
  const AveragedWeights averaged(*optimizer_);
  if (has_validation())
    for (auto& [name, value] : validate(model_, validation_, options_, &confusion, group()))
      record.metrics[name] = value;
  if (optimizer_->schedule().on_epoch_end(record.metrics))
    logger_.log->info("{} reduced the learning rate to {}", optimizer_->schedule().config().value("name", "schedule"),
                      format_number(optimizer_->learning_rate()));

  const double current = record.metrics.at(state_.monitor.name);
  const double previous_best = state_.monitor.best;
  const bool improved = state_.monitor.update(current, record.epoch);
  const std::string note = improved ? " - " + state_.monitor.name + " improved from " + four_decimals(previous_best) +
                                          " to " + four_decimals(current)
                                    : "";
  const bool early_stop = early_stopping_->on_epoch_end(state_.stopping, current, record.epoch, model_);

  state_.history.push_back(record);
  if (metric_log_) metric_log_->append(record);
  ++state_.epoch;
  state_.step = 0;
  state_.reset_epoch_sums();
  save(improved);
  logger_.log->info("{}{}", epoch_line(record, options_.epochs), note);
  EpochEnd end{record, state_.history, model_, options_, improved};
  if (writes()) {
    ReportData report = epoch_report(end, model_summary_, steps_per_epoch_,
                                     predict_samples(model_, has_validation() ? validation_ : train_,
                                                     options_.report_samples));
    report.confusion = confusion;
    report.confusion_of = (has_validation() ? "validation, epoch " : "training batches, epoch ") +
                          std::to_string(record.epoch);
    if (!augmented_) augmented_ = augmented_samples(train_, options_, options_.report_samples);
    report.augmented = *augmented_;
    write_report((run_.root / "report.html").string(), report);
  }
  if (options_.on_epoch_end) options_.on_epoch_end(end);
  hook_stop_ = hook_stop_ || end.stop_training;
  return early_stop;
}

// A signal or a hook on any process stops every process after the same step: each step ends with this vote.
Trainer::StopVote Trainer::vote_on_stop() {
  std::array<int64_t, 2> local{stop_requested() ? stop_signal() : 0, hook_stop_ ? 1 : 0};
  if (Collective* g = group()) g->max(local);
  return {static_cast<int>(local[0]), local[1] != 0};
}

// Every process must start from the same weights and place (the same checkpoint read, the same build): checked
// once, by the position and a hash of the weights' bits, before the first step.
void Trainer::check_group_agrees() {
  Collective* g = group();
  if (!g) return;
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a over the weights' bytes
  for (const NamedTensor& t : model_.weight_tensors()) {
    const std::byte* bytes = t.tensor.bytes();
    for (size_t i = 0; i < t.tensor.nbytes(); ++i) hash = (hash ^ static_cast<uint64_t>(bytes[i])) * 1099511628211ULL;
  }
  const auto h = static_cast<int64_t>(hash >> 1);
  std::array<int64_t, 4> highs{state_.global_step, -state_.global_step, h, -h};
  g->max(highs);
  if (highs[0] != -highs[1] || highs[2] != -highs[3])
    throw std::runtime_error("fit: the " + std::to_string(g->size()) + " processes do not start from the same " +
                             (highs[0] != -highs[1] ? "step (global steps " + std::to_string(-highs[1]) + " to " +
                                                          std::to_string(highs[0]) + ")"
                                                    : std::string("weights")) +
                             "; every process must run the same build and read the same run folder");
}

FitResult Trainer::finish(StopReason stop, int signal, std::string message) {
  // The model fit returns holds the averages; an early stop has put them there already, before restoring the best.
  if (stop != StopReason::EarlyStopping) optimizer_->finalize_variable_values();
  report_profile(profile_.end_early());
  FitResult r;
  r.history = state_.history;
  r.epochs_completed = state_.epoch;
  r.global_step = state_.global_step;
  r.stop = stop;
  r.signal = signal;
  r.monitor = state_.monitor.name;
  r.best_value = state_.monitor.best;
  r.best_epoch = state_.monitor.best_epoch;
  if (!options_.run_dir.empty()) {
    if (std::filesystem::exists(run_.last_checkpoint())) r.last_checkpoint = run_.last_checkpoint();
    if (std::filesystem::exists(run_.best_checkpoint())) r.best_checkpoint = run_.best_checkpoint();
  }
  r.message = std::move(message);
  if (!r.message.empty()) logger_.log->info("{}", r.message);
  return r;
}

// "at epoch 2, step 3 (global step 8)" within an epoch, "after epoch 2" at its end.
std::string Trainer::stopped_at() const {
  const std::string where = state_.step == 0 ? "after epoch " + std::to_string(state_.epoch)
                                             : "at epoch " + std::to_string(state_.epoch + 1) + ", step " +
                                                   std::to_string(state_.step) + " (global step " +
                                                   std::to_string(state_.global_step) + ")";
  return where + (options_.run_dir.empty() ? "" : "; checkpoint written, " + resume_hint(options_));
}

FitResult Trainer::run() {
  threads_ = num_threads();
  owns_outputs_ = !group() || group()->rank() == 0;
  check_inputs();
  start_components();
  prepare_run_folder();
  logger_ = make_run_logger(writes() ? run_.log() : std::filesystem::path(), options_.console && owns_outputs_);
  try {
    return logged_run();
  } catch (const std::exception& e) {
    // The caller reports the error on the console; log.txt keeps it too (a full disk, a bad sample), so the run's
    // folder says why it ended.
    logger_.file_only->error("The run ended with an error: {}", e.what());
    throw;
  }
}

FitResult Trainer::logged_run() {
  if (options_.resume) resume();
  check_group_agrees();
  if (writes()) {
    write_run_config(run_, options_, model_, threads_, train_.size(), has_validation() ? validation_.size() : 0,
                     train_.dataset->spec());
    metric_log_.emplace(run_.metrics_csv(), run_.metrics_jsonl());
    metric_log_->rewrite(state_.history);  // drops rows a killed run logged after its last checkpoint
    model_summary_ = model_.summary();
  }
  logger_.log->info("Training '{}' ({} parameters) on {} samples{}, {} steps per epoch of batch {}, {} with loss {}, "
                    "seed {}, {} thread{}{}{}",
                    model_.name(), model_.count_params(), train_.size(),
                    has_validation() ? " (" + std::to_string(validation_.size()) + " for validation)" : std::string(),
                    steps_per_epoch_, options_.batch_size,
                    optimizer_->name() + (optimizer_->common_options().use_ema
                                              ? " (weights averaged, EMA momentum " +
                                                    format_number(optimizer_->common_options().ema_momentum) + ")"
                                              : std::string()),
                    loss_->name(), options_.seed, threads_, threads_ == 1 ? "" : "s",
                    group() ? " per process, " + std::to_string(group()->size()) + " processes" : std::string(),
                    options_.run_dir.empty() ? std::string() : ", run folder " + run_.root.string());
  if (sharded_)
    logger_.log->info("Each batch's gradient is summed from {} parts of {} samples{}{}", options_.gradient_shards,
                      options_.batch_size / options_.gradient_shards,
                      group() ? ", " + std::to_string(options_.gradient_shards / group()->size()) + " per process"
                              : std::string(),
                      options_.sync_batch_norm ? "; BatchNormalization takes the whole batch's statistics (sync)"
                                               : "");
  if (sharded_ && group() && !options_.sync_batch_norm) {
    // Bit-equality with one process needs each process's parts to form one complete subtree of the parts' tree.
    const int64_t per_process = options_.gradient_shards / group()->size();
    if (!std::has_single_bit(static_cast<uint64_t>(per_process)))
      logger_.log->warn("gradient_shards (--grad-shards) {} over {} processes gives each {} parts, not a power of two: "
                        "the weights can differ in their last bits from a one-process run with the same parts (their "
                        "sums combine in another order); for bit-equality choose {} times a power of two, e.g. {} or "
                        "{}",
                        options_.gradient_shards, group()->size(), per_process, group()->size(),
                        group()->size() * static_cast<int64_t>(std::bit_floor(static_cast<uint64_t>(per_process))),
                        group()->size() * static_cast<int64_t>(std::bit_ceil(static_cast<uint64_t>(per_process))));
  }
  if (!monitor_note_.empty()) logger_.log->info("{}", monitor_note_);
  if (state_.epoch >= options_.epochs)
    return finish(StopReason::Completed, 0,
                  "The run already has " + std::to_string(state_.epoch) + " epochs; ask for more epochs to continue");

  std::optional<StopSignalHandler> signals;
  if (options_.handle_signals) signals.emplace();
  Progress progress(owns_outputs_ ? options_.progress : ProgressMode::Off, options_.progress_interval_seconds, stdout,
                    [this](const std::string& s) { logger_.log->info("{}", s); },
                    [this](const std::string& s) { logger_.file_only->info("{}", s); });
  ModeGuard mode(model_);
  model_.train();
  while (state_.epoch < options_.epochs) {
    const auto epoch_start = Clock::now();
    progress.begin_epoch(state_.epoch + 1, options_.epochs, steps_per_epoch_, state_.step);
    while (state_.step < steps_per_epoch_) {
      profile_.begin_step();
      const data::Batch batch = [&] {
        const profiler::Region region("waiting for the loader");
        return loader_->next();
      }();
      step(batch);
      progress.update(state_.step, batch.full_size, state_.running_metrics());
      report_profile(profile_.end_step());
      if (state_.step == steps_per_epoch_) break;  // a stop asked at the epoch's last step waits for its end
      if (const StopVote vote = vote_on_stop(); vote.stop()) {
        progress.end_epoch();
        save(false);
        if (vote.hook) return finish(StopReason::Requested, 0, "Stopped by a hook " + stopped_at());
        clear_stop_request();
        return finish(StopReason::Signal, vote.signal,
                      std::string("Stopped by ") + signal_name(vote.signal) + " " + stopped_at());
      }
      if (options_.checkpoint_every > 0 && state_.global_step % options_.checkpoint_every == 0) save(false);
    }
    progress.end_epoch();
    if (end_epoch(std::chrono::duration<double>(Clock::now() - epoch_start).count())) {
      optimizer_->finalize_variable_values();  // before the best weights (themselves averages) may replace them
      const EarlyStoppingState& s = state_.stopping;
      const std::string message =
          "Early stopping: " + state_.monitor.name + " did not improve for " +
          std::to_string(options_.early_stopping_patience) + " epochs (best " + four_decimals(s.best) + " at epoch " +
          std::to_string(s.best_epoch) + ")" +
          early_stopping_->restore_best_weights(model_, s, options_.run_dir.empty() ? "" : run_.best_checkpoint(),
                                                state_.monitor.best_epoch);
      return finish(StopReason::EarlyStopping, 0, message);
    }
    if (state_.epoch < options_.epochs) {
      const StopVote vote = vote_on_stop();
      if (vote.hook) return finish(StopReason::Requested, 0, "Stopped by a hook " + stopped_at());
      if (vote.stop()) {
        clear_stop_request();
        return finish(StopReason::Signal, vote.signal,
                      std::string("Stopped by ") + signal_name(vote.signal) + " " + stopped_at());
      }
    }
  }
  clear_stop_request();  // a signal during the very last step: the run is complete anyway
  return finish(StopReason::Completed, 0,
                "Finished " + std::to_string(state_.epoch) + " epochs; best " + state_.monitor.name + " " +
                    four_decimals(state_.monitor.best) + " at epoch " + std::to_string(state_.monitor.best_epoch));
}

}  // namespace

FitResult fit(Model& model, const DataSource& train, const DataSource* validation, const FitOptions& options) {
  const ThreadCountGuard threads(options.threads);
  Trainer trainer(model, train, validation, options);
  return trainer.run();
}

}  // namespace tg::train
