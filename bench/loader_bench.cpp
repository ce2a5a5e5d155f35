// Data loader throughput: images per second delivered to a consumer that does no work, i.e. the most a
// training step could ever draw. Default: the ISBI membrane training set (512x512 PNGs) resized to 256x256,
// Keras U-Net augmentation, batch 2, one worker thread.
//
//   build/bench/bench_loader_bench [--root ../shared/datasets/membrane/train] [--workers 1] [--batches 150]
//                                  [--batch 2] [--size 256] [--no-augment] [--cache]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "data/data.h"

int main(int argc, char** argv) {
  std::filesystem::path root = "../shared/datasets/membrane/train";
  int workers = 1, batches = 150, batch = 2, size = 256;
  bool augment = true, cache = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--root") root = value();
    else if (a == "--workers") workers = std::stoi(value());
    else if (a == "--batches") batches = std::stoi(value());
    else if (a == "--batch") batch = std::stoi(value());
    else if (a == "--size") size = std::stoi(value());
    else if (a == "--no-augment") augment = false;
    else if (a == "--cache") cache = true;
    else {
      std::fprintf(stderr, "unknown option %s (see the comment at the top of bench/loader_bench.cpp)\n", a.c_str());
      return 2;
    }
  }
  if (!std::filesystem::is_directory(root)) {
    std::fprintf(stderr, "no dataset at '%s': pass --root DIR (a folder with image/ + label/ or images/ + masks/)\n",
                 root.c_str());
    return 2;
  }
  tg::data::FolderOptions f;
  f.root = root;
  f.height = f.width = size;
  f.cache = cache;
  auto dataset = std::make_shared<tg::data::FolderDataset>(f);

  tg::data::LoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  o.seed = 1;
  if (augment) o.augment = tg::data::AugmentOptions::keras_membrane();
  tg::data::DataLoader loader(dataset, tg::data::all_indices(dataset->size()), o);

  for (int i = 0; i < 2; ++i) loader.next();  // warm-up: thread start, page cache
  const auto start = std::chrono::steady_clock::now();
  int64_t images = 0;
  for (int i = 0; i < batches; ++i) images += loader.next().size();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("loader_bench: %s, %zu pairs -> %dx%d, batch %d, %d worker(s), augmentation %s, cache %s\n",
              root.c_str(), dataset->size(), size, size, batch, workers, augment ? "keras_membrane" : "off",
              cache ? "on" : "off");
  std::printf("  %lld images in %.3f s: %.1f images/s (%.2f ms per image)\n", static_cast<long long>(images), seconds,
              images / seconds, 1000.0 * seconds / images);
  return 0;
}
