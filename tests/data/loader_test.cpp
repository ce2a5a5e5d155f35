#include "data_test_util.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace tg::data;

namespace {

// Sample i: image filled with i / 100, labels with i % 2; optionally slow, and counting its calls.
class Numbered : public Dataset {
 public:
  explicit Numbered(size_t n, int sleep_ms = 0) : n_(n), sleep_ms_(sleep_ms) {}
  size_t size() const override { return n_; }
  const DatasetSpec& spec() const override { return spec_; }
  Sample get(size_t i, tg::Rng*) const override {
    ++calls;
    if (sleep_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    return {tg::Tensor::full({2, 3, 1}, static_cast<double>(i) / 100.0), tg::Tensor::full({2, 3}, static_cast<double>(i % 2))};
  }
  std::string name(size_t i) const override { return std::to_string(i); }
  mutable std::atomic<int> calls{0};

 private:
  size_t n_;
  int sleep_ms_;
  DatasetSpec spec_{2, 3, 1, 2, -1};
};

std::shared_ptr<const Dataset> synthetic(size_t count = 12) {
  return std::make_shared<SyntheticDataset>(SyntheticOptions{.count = count, .height = 16, .width = 16, .num_classes = 3});
}

LoaderOptions options(int batch, int workers, uint64_t seed = 1) {
  LoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  o.seed = seed;
  return o;
}

bool same(const Batch& a, const Batch& b) {
  return a.indices == b.indices && a.epoch == b.epoch && a.step == b.step &&
         a.images.to_vector() == b.images.to_vector() && a.labels.to_vector() == b.labels.to_vector();
}

}  // namespace

TEST_CASE("loader: every sample exactly once per epoch, with a partial last batch, from 3 workers") {
  auto ds = std::make_shared<Numbered>(23);
  std::vector<size_t> indices = all_indices(23);
  DataLoader loader(ds, indices, options(4, 3));
  CHECK(loader.steps_per_epoch() == 6);
  std::vector<std::vector<size_t>> orders;
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<size_t> seen;
    for (int step = 0; step < 6; ++step) {
      const Batch b = loader.next();
      CHECK(b.epoch == epoch);
      CHECK(b.step == step);
      CHECK(b.size() == (step == 5 ? 3 : 4));
      CHECK(b.images.shape() == tg::Shape{b.size(), 2, 3, 1});
      CHECK(b.labels.shape() == tg::Shape{b.size(), 2, 3});
      for (int64_t j = 0; j < b.size(); ++j) {
        // the batch row holds the sample its index names
        CHECK(b.images.at({j, 1, 2, 0}) == doctest::Approx(static_cast<double>(b.indices[j]) / 100.0));
        CHECK(b.labels.at({j, 0, 0}) == static_cast<double>(b.indices[j] % 2));
      }
      seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    }
    CHECK(seen == loader.epoch_order(epoch));
    std::sort(seen.begin(), seen.end());
    CHECK(seen == indices);
    orders.push_back(loader.epoch_order(epoch));
  }
  CHECK(orders[0] != orders[1]);  // reshuffled every epoch
  CHECK(orders[1] != orders[2]);
}

TEST_CASE("loader: drop_last, no shuffle, and an index subset") {
  auto ds = std::make_shared<Numbered>(30);
  LoaderOptions o = options(4, 2);
  o.drop_last = true;
  o.shuffle = false;
  const std::vector<size_t> subset{3, 5, 7, 9, 11, 13, 15, 17, 19, 21};
  DataLoader loader(ds, subset, o);
  CHECK(loader.steps_per_epoch() == 2);
  CHECK(loader.next().indices == std::vector<size_t>{3, 5, 7, 9});
  CHECK(loader.next().indices == std::vector<size_t>{11, 13, 15, 17});
  CHECK(loader.next().indices == std::vector<size_t>{3, 5, 7, 9});  // next epoch, same order without shuffle
  o.batch_size = 11;
  CHECK_THROWS_AS(DataLoader(ds, subset, o), std::invalid_argument);
  CHECK_THROWS_AS(DataLoader(ds, {0, 30}, options(2, 0)), std::invalid_argument);
  CHECK_THROWS_AS(DataLoader(ds, {}, options(2, 0)), std::invalid_argument);
}

TEST_CASE("loader: the order of an epoch is a pure function of (seed, epoch)") {
  auto ds = std::make_shared<Numbered>(40);
  DataLoader a(ds, all_indices(40), options(8, 0, 5)), b(ds, all_indices(40), options(8, 1, 5)),
      c(ds, all_indices(40), options(8, 0, 6));
  for (int e = 0; e < 3; ++e) {
    CHECK(a.epoch_order(e) == b.epoch_order(e));
    CHECK(a.epoch_order(e) != c.epoch_order(e));
  }
}

TEST_CASE("loader: batches are identical for 0, 1 and 4 workers, with augmentation") {
  auto ds = synthetic(10);
  std::vector<std::vector<Batch>> runs;
  for (int workers : {0, 1, 4}) {
    LoaderOptions o = options(3, workers, 9);
    o.augment = AugmentOptions::keras_membrane();
    o.augment->rotation_deg = 30;
    o.augment->brightness = 0.1;
    DataLoader loader(ds, all_indices(10), o);
    runs.emplace_back();
    for (int i = 0; i < 9; ++i) runs.back().push_back(loader.next());
  }
  for (int i = 0; i < 9; ++i) {
    CHECK(same(runs[0][i], runs[1][i]));
    CHECK(same(runs[0][i], runs[2][i]));
  }
  // augmentation is on: the same sample in two epochs comes out differently
  LoaderOptions o = options(10, 0, 9);
  o.augment = AugmentOptions::keras_membrane();
  o.augment->rotation_deg = 30;
  DataLoader loader(ds, all_indices(10), o);
  const Batch e0 = loader.next(), e1 = loader.next();
  const auto row = [](const Batch& b, size_t index) {
    const auto at = std::find(b.indices.begin(), b.indices.end(), index) - b.indices.begin();
    return b.images.slice(at, at + 1).to_vector();
  };
  CHECK(row(e0, 4) != row(e1, 4));
}

TEST_CASE("loader: resuming from state() or a position gives exactly the batches of an uninterrupted run") {
  auto ds = synthetic(11);
  LoaderOptions o = options(3, 2, 21);
  o.augment = AugmentOptions::keras_membrane();
  o.augment->crop_scale = 0.8;
  DataLoader full(ds, all_indices(11), o);
  CHECK(full.steps_per_epoch() == 4);
  std::vector<Batch> uninterrupted;
  for (int i = 0; i < 12; ++i) uninterrupted.push_back(full.next());

  nlohmann::json saved;
  {
    DataLoader first(ds, all_indices(11), o);
    for (int i = 0; i < 6; ++i) CHECK(same(first.next(), uninterrupted[i]));
    saved = first.state();
  }  // destroyed with batches still prefetched
  CHECK(saved["epoch"] == 1);
  CHECK(saved["step"] == 2);
  const std::string text = saved.dump();  // as a checkpoint would store it

  LoaderOptions more_workers = o;
  more_workers.workers = 5;
  DataLoader resumed(ds, all_indices(11), more_workers);
  resumed.next();  // it had started elsewhere; load_state must discard what it prefetched
  resumed.load_state(nlohmann::json::parse(text));
  for (int i = 6; i < 12; ++i) CHECK(same(resumed.next(), uninterrupted[i]));

  DataLoader positioned(ds, all_indices(11), o, {2, 1});
  CHECK(same(positioned.next(), uninterrupted[9]));
  positioned.seek(3);
  CHECK(positioned.position() == LoaderPosition{0, 3});
  CHECK(same(positioned.next(), uninterrupted[3]));
  CHECK(same(positioned.make_batch({1, 0}), uninterrupted[4]));
  CHECK(positioned.global_step() == 4);
  CHECK_THROWS_AS(positioned.set_position({0, 4}), std::invalid_argument);

  LoaderOptions other = o;
  other.batch_size = 4;
  DataLoader mismatched(ds, all_indices(11), other);
  const std::string msg = tg::testing::error_of([&] { mismatched.load_state(saved); });
  CHECK(msg.find("batch_size") != std::string::npos);
}

TEST_CASE("loader: the queue is bounded, and the loader stops cleanly mid-epoch with busy workers") {
  auto ds = std::make_shared<Numbered>(64, 5);
  {
    LoaderOptions o = options(2, 4);
    o.prefetch = 3;
    DataLoader loader(ds, all_indices(64), o);
    loader.next();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // the queue bound holds: at most (delivered 1 + prefetch 3) batches of 2, plus what workers had claimed
    CHECK(ds->calls.load() <= (1 + 3) * 2);
  }
  { DataLoader never_read(ds, all_indices(64), options(2, 4)); }  // a hang here would time the test out
}

TEST_CASE("loader: worker threads that cannot all start give an error naming the count, not std::terminate") {
  // In a child process: its address space is capped just above what it uses, so thread stacks run out after a few
  // workers. Before the fix the threads already started were left joinable and the child died of SIGABRT.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    long pages = 0;
    if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(statm, "%ld", &pages) != 1) pages = 0;
      std::fclose(statm);
    }
    const rlim_t cap = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (64u << 20);
    const rlimit limit{cap, cap};
    if (pages == 0 || setrlimit(RLIMIT_AS, &limit) != 0) _exit(3);
    try {
      DataLoader loader(std::make_shared<Numbered>(8), all_indices(8), options(2, 200));
      _exit(4);  // 200 threads of 8 MB stacks within 64 MB: should not happen
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      _exit(message.find("of 200 worker threads") != std::string::npos ? 0 : 5);
    } catch (...) {
      _exit(6);
    }
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE_MESSAGE(WIFEXITED(status), "the child died of signal " << WTERMSIG(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("loader: an error in a worker reaches the consumer with the file name, in order") {
  tg::testing::TempDir tmp;
  for (const char* stem : {"a", "b", "c", "d"}) tg::testing::write_pair(tmp.path(), stem, 16, 16);
  const auto cut = tmp / "images" / "c.png";
  std::filesystem::resize_file(cut, std::filesystem::file_size(cut) / 2);
  FolderOptions f;
  f.root = tmp.path();
  f.height = f.width = 8;
  auto ds = std::make_shared<FolderDataset>(f);
  LoaderOptions o = options(1, 3);
  o.shuffle = false;
  DataLoader loader(ds, all_indices(4), o);
  CHECK(loader.next().indices == std::vector<size_t>{0});
  CHECK(loader.next().indices == std::vector<size_t>{1});
  try {
    loader.next();
    FAIL("expected the truncated file to be reported");
  } catch (const DataError& e) {
    CHECK(std::string(e.what()).find("c.png") != std::string::npos);
    CHECK(e.file().filename() == "c.png");
  }
  CHECK(loader.next().indices == std::vector<size_t>{3});  // the loader goes on past the bad batch
}

TEST_CASE("loader: per-channel mean/std normalisation after augmentation") {
  auto ds = std::make_shared<Numbered>(4);
  LoaderOptions o = options(4, 0);
  o.shuffle = false;
  o.mean = {0.01f};
  o.std = {0.5f};
  const Batch b = DataLoader(ds, all_indices(4), o).next();
  CHECK(b.images.at({3, 0, 0, 0}) == doctest::Approx((0.03 - 0.01) / 0.5));
  o.std = {0.0f};
  CHECK_THROWS_AS(DataLoader(ds, all_indices(4), o), std::invalid_argument);
  o.std = {1.0f, 1.0f};
  CHECK_THROWS_AS(DataLoader(ds, all_indices(4), o), std::invalid_argument);
}

TEST_CASE("batch: one_hot with ignored pixels as zero rows") {
  const tg::Tensor labels = tg::Tensor::from({0, 2, 255, 1}, {1, 2, 2});
  const tg::Tensor oh = one_hot(labels, 3, 255);
  CHECK(oh.shape() == tg::Shape{1, 2, 2, 3});
  CHECK(oh.to_vector() == std::vector<double>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0});
  CHECK_THROWS_AS(one_hot(labels, 3), std::invalid_argument);  // 255 without an ignore index
  CHECK_THROWS_AS(one_hot(tg::Tensor::from({0.5}, {1}), 3), std::invalid_argument);
}

TEST_CASE("loader: the epoch order is a uniform shuffle (every permutation of 4 equally often, chi-square)") {
  // 24,000 epochs of 4 samples: each of the 24 orders is expected 1,000 times. A biased Fisher-Yates (swapping with
  // any position instead of one not yet placed) gives some orders 750 and others 1,400; one that never swaps the
  // first two never gives half of them. The seeds are fixed, so the statistic is a fixed number: the bound is the
  // chi-square quantile at p = 0.001 for 23 degrees of freedom (49.7).
  auto ds = std::make_shared<Numbered>(4);
  DataLoader loader(ds, all_indices(4), options(4, 1, 12345));
  std::map<std::vector<size_t>, int> counts;
  const int epochs = 24000;
  for (int64_t e = 0; e < epochs; ++e) ++counts[loader.epoch_order(e)];
  REQUIRE(counts.size() == 24);
  double chi2 = 0;
  for (const auto& [order, n] : counts) chi2 += (n - 1000.0) * (n - 1000.0) / 1000.0;
  MESSAGE("chi-square " << chi2);
  CHECK(chi2 < 49.7);
  // Each position holds each sample a quarter of the time.
  for (size_t pos = 0; pos < 4; ++pos)
    for (size_t sample = 0; sample < 4; ++sample) {
      int n = 0;
      for (const auto& [order, c] : counts) n += order[pos] == sample ? c : 0;
      CHECK(std::abs(n - 6000) < 300);
    }
}
