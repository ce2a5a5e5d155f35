#include "train/train_step.h"

#include "autograd/profiler.h"
#include "autograd/tape.h"
#include "train/metric_log.h"

namespace tg::train {

StepResult train_step(Model& model, const TrainingLoss& loss, Optimizer& optimizer, const data::Batch& batch,
                      uint64_t seed, int64_t global_step) {
  model.rng() = Rng::derive(seed, kDropoutStream, static_cast<uint64_t>(global_step));
  optimizer.zero_grad();
  const Variable outputs = loss.outputs(model, Variable(batch.images));
  Variable value = loss(outputs, batch.labels, batch.weights);
  StepResult result{value.item(), outputs.value()};
  if (!result.applied()) return result;  // the graph goes with `value` and `outputs`
  value.backward();
  const profiler::Region region("optimizer step");
  optimizer.step();
  optimizer.zero_grad();
  return result;
}

NonFiniteLossError non_finite_loss_error(double loss, const data::Batch& batch, const data::Dataset& dataset,
                                         const StepPosition& at, const std::filesystem::path& last_good_checkpoint) {
  std::string samples;
  for (size_t i = 0; i < batch.indices.size() && i < 16; ++i)
    samples += (i ? ", " : "") + dataset.name(batch.indices[i]);
  if (batch.indices.size() > 16) samples += ", ...";
  std::string message = "the loss is " + format_number(loss) + " at epoch " + std::to_string(at.epoch + 1) +
                        ", step " + std::to_string(at.step + 1) + "/" + std::to_string(at.steps_per_epoch) +
                        " (global step " + std::to_string(at.global_step + 1) + "), on the batch of samples [" +
                        samples + "]; training stopped";
  message += last_good_checkpoint.empty()
                 ? ". "
                 : " and the last good checkpoint " + last_good_checkpoint.string() + " is untouched. ";
  message += "Check those samples, then resume with a lower learning rate or with gradient clipping (`tapegrad train "
             "--resume RUN_DIR --lr 0.0001 --clipnorm 1`; in code, FitOptions::optimizer's learning_rate and "
             "global_clipnorm).";
  return NonFiniteLossError(message, at.global_step, batch.indices);
}

}  // namespace tg::train
