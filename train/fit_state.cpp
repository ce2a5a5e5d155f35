#include "train/fit_state.h"

#include <stdexcept>

#include "optim/json_number.h"

namespace tg::train {

void FitState::reset_epoch_sums() {
  loss_sum = 0.0;
  samples = 0;
  confusion.reset();
}

nlohmann::json FitState::to_json(const nlohmann::json& extra) const {
  nlohmann::json history_json = nlohmann::json::array();
  for (const EpochRecord& r : history) history_json.push_back(r.to_json());
  nlohmann::json j = {
      {"format", "tapegrad.train"},
      {"version", 1},
      {"epoch", epoch},
      {"step", step},
      {"global_step", global_step},
      {"epoch_sums", {{"loss_sum", json_from_double(loss_sum)}, {"samples", samples}, {"confusion", confusion.to_json()}}},
      {"monitor",
       {{"name", monitor}, {"maximize", maximize}, {"best", json_from_double(best)}, {"best_epoch", best_epoch}}},
      {"early_stopping",
       {{"best", json_from_double(stopping_best)}, {"best_epoch", stopping_best_epoch}, {"wait", stopping_wait}}},
      {"history", history_json}};
  for (auto& [key, value] : extra.items()) j[key] = value;
  return j;
}

FitState FitState::from_json(const nlohmann::json& j) {
  FitState s;
  try {
    if (j.value("format", "") != "tapegrad.train")
      throw std::runtime_error("the training state is not in tapegrad's format");
    s.epoch = j.at("epoch").get<int64_t>();
    s.step = j.at("step").get<int64_t>();
    s.global_step = j.at("global_step").get<int64_t>();
    const nlohmann::json& sums = j.at("epoch_sums");
    s.loss_sum = double_from_json(sums.at("loss_sum"));
    s.samples = sums.at("samples").get<int64_t>();
    s.confusion = ConfusionMatrix::from_json(sums.at("confusion"));
    const nlohmann::json& m = j.at("monitor");
    s.monitor = m.at("name").get<std::string>();
    s.maximize = m.at("maximize").get<bool>();
    s.best = double_from_json(m.at("best"));
    s.best_epoch = m.at("best_epoch").get<int64_t>();
    s.stopping_best = double_from_json(j.at("early_stopping").at("best"));
    s.stopping_best_epoch = j.at("early_stopping").at("best_epoch").get<int64_t>();
    s.stopping_wait = j.at("early_stopping").at("wait").get<int>();
    for (const nlohmann::json& r : j.at("history")) s.history.push_back(EpochRecord::from_json(r));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("the checkpoint's training state is incomplete: ") + e.what());
  }
  return s;
}

}  // namespace tg::train
