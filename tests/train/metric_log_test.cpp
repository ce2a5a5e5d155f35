#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <limits>

#include "train/metric_log.h"
#include "tests/temp_dir.h"

using namespace tg::train;
namespace fs = std::filesystem;

namespace {
std::string read(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}
}  // namespace

TEST_CASE("metric log: CSV columns in order, JSON lines, exact numbers, rewrite drops later rows") {
  const tg::testing::TempDir tmp;
  const fs::path d = tmp.path();
  MetricLog log(d / "metrics.csv", d / "metrics.jsonl");
  log.rewrite({});
  EpochRecord r1{1, 10, 1e-3, 2.5, {{"val_loss", 0.5}, {"pixel_accuracy", 0.75}, {"loss", 0.1}, {"val_dice_1", 0.3}}};
  EpochRecord r2{2, 20, 5e-4, 2.25,
                 {{"val_loss", std::numeric_limits<double>::infinity()}, {"pixel_accuracy", 0.8}, {"loss", 0.1 + 0.2}}};
  log.append(r1);
  log.append(r2);
  CHECK(read(d / "metrics.csv") ==
        "epoch,global_step,learning_rate,seconds,loss,pixel_accuracy,val_loss,val_dice_1\n"
        "1,10,0.001,2.5,0.1,0.75,0.5,0.3\n"
        "2,20,5e-04,2.25,0.30000000000000004,0.8,inf,\n");
  const std::string jsonl = read(d / "metrics.jsonl");
  const auto second = nlohmann::json::parse(jsonl.substr(jsonl.find('\n') + 1));
  const EpochRecord back = EpochRecord::from_json(second);
  CHECK(back.metrics.at("loss") == 0.1 + 0.2);
  CHECK(back.metrics.at("val_loss") == std::numeric_limits<double>::infinity());
  CHECK(back.global_step == 20);

  log.rewrite({r1});
  CHECK(read(d / "metrics.csv") ==
        "epoch,global_step,learning_rate,seconds,loss,pixel_accuracy,val_loss,val_dice_1\n1,10,0.001,2.5,0.1,0.75,0.5,0.3\n");
  CHECK(std::count(jsonl.begin(), jsonl.end(), '\n') == 2);  // before the rewrite
  const std::string rewritten = read(d / "metrics.jsonl");
  CHECK(std::count(rewritten.begin(), rewritten.end(), '\n') == 1);
  CHECK(EpochRecord::from_json(nlohmann::json::parse(rewritten)).epoch == 1);
}
