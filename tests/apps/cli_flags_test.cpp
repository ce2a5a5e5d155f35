// Flags of `tapegrad train` and `predict` that change what happens, each seen to take effect: SIGTERM, an --out that
// cannot be created, palette masks with an ignore value, resizing, --threads, --workers, --schedule, predict --fit;
// --precision; and the report's curves drawn from the numbers in metrics.csv.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include "cli_util.h"
#include "autograd/precision.h"
#include "layers/model.h"

using namespace tg::cli_test;

namespace {

const std::vector<std::string> kTinyModel = {"--filters", "4", "--depth", "2", "--size", "32", "--progress", "none"};

std::vector<std::string> train_args(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"train"};
  args.insert(args.end(), kTinyModel.begin(), kTinyModel.end());
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// metrics.csv as column -> values (one per epoch, in order).
std::map<std::string, std::vector<double>> read_metrics(const fs::path& path) {
  const auto lines = lines_of(read_text(path));
  REQUIRE(lines.size() >= 2);
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream in(line);
    for (std::string cell; std::getline(in, cell, ',');) cells.push_back(cell);
    return cells;
  };
  const auto header = split(lines[0]);
  std::map<std::string, std::vector<double>> columns;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto cells = split(lines[i]);
    REQUIRE(cells.size() == header.size());
    for (size_t c = 0; c < cells.size(); ++c) columns[header[c]].push_back(cells[c].empty() ? NAN : std::stod(cells[c]));
  }
  return columns;
}

// A folder dataset of `count` grey 40x48 images whose masks are RGB: black background (class 0), a red disc
// (class 1) and a white border of unlabelled pixels.
void write_palette_dataset(const fs::path& root, int count) {
  const int h = 40, w = 48;
  fs::create_directories(root / "masks");
  for (int i = 0; i < count; ++i) {
    const std::string stem = "s" + std::to_string(i);
    write_grey_png(root / "images" / (stem + ".png"), h, w);
    std::vector<uint8_t> mask(static_cast<size_t>(h) * w * 3, 0);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const int dy = y - h / 2, dx = x - w / 3;  // the disc of write_grey_png
        uint8_t* p = &mask[(static_cast<size_t>(y) * w + x) * 3];
        if (y < 2 || x < 2) p[0] = p[1] = p[2] = 255;
        else if (dx * dx + dy * dy < (h * h) / 16) p[0] = 255;
      }
    REQUIRE(stbi_write_png((root / "masks" / (stem + ".png")).c_str(), w, h, 3, mask.data(), w * 3) == 1);
  }
  write_text(root / "palette.json", R"({"0": [0, 0, 0], "1": [255, 0, 0], "255": [255, 255, 255]})");
}

}  // namespace

TEST_CASE("cli: SIGTERM during training exits 143 after writing a checkpoint") {
  TempDir tmp;
  const fs::path run = tmp / "run", log = tmp / "train.log";
  const Interrupted r = interrupt_training(train_args({"--batch", "8", "--epochs", "50", "--synthetic-count", "64",
                                                      "--checkpoint-every", "1", "--out", run.string()}),
                                          run, log, SIGTERM);
  REQUIRE_MESSAGE(r.started, r.output);
  CHECK_MESSAGE(r.status == 143, r.output);
  CHECK(contains(r.output, "Stopped by SIGTERM"));
  CHECK(contains(r.output, "tapegrad train --resume " + run.string()));
  CHECK(tg::load_model(r.last).count_params() > 0);
}

TEST_CASE("cli: an --out that cannot be created fails with one line naming it") {
  TempDir tmp;
  write_text(tmp / "blocker", "a file where a folder should go\n");
  const Result r = run_cli(train_args({"--epochs", "1", "--out", (tmp / "blocker" / "run").string()}), tmp.path());
  CHECK_MESSAGE(r.status == 1, r.output);
  const auto lines = lines_of(r.output);
  REQUIRE_MESSAGE(lines.size() == 1, r.output);
  CHECK(lines[0].rfind("tapegrad: error: ", 0) == 0);
  CHECK(contains(lines[0], (tmp / "blocker" / "run").string()));
}

TEST_CASE("cli: palette masks with an ignore value, resized, on 2 threads and 2 workers, with a cosine schedule") {
  TempDir tmp;
  write_palette_dataset(tmp / "data", 6);
  const std::vector<std::string> common = {
      "--data", (tmp / "data").string(), "--mask", "palette:" + (tmp / "data" / "palette.json").string(),
      "--fit", "resize", "--batch", "2", "--epochs", "3", "--val-split", "0.34", "--lr", "0.01", "--seed", "3"};
  // Without --ignore-index the palette's white (255) is no class: refused, naming the palette and the class.
  std::vector<std::string> args = common;
  args.insert(args.end(), {"--out", (tmp / "refused").string()});
  const Result refused = run_cli(train_args(args), tmp.path());
  CHECK_MESSAGE(refused.status == 1, refused.output);
  CHECK(contains(refused.output, "palette.json"));
  CHECK(contains(refused.output, "class 255"));

  const fs::path run = tmp / "run";
  args = common;
  args.insert(args.end(), {"--ignore-index", "255", "--threads", "2", "--workers", "2", "--schedule", "cosine",
                           "--out", run.string()});
  const Result r = run_cli(train_args(args), tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const nlohmann::json config = read_json(run / "config.json");
  CHECK(config["threads"] == 2);  // spawn_cli sets OMP_NUM_THREADS=1: --threads won
  CHECK(config["command"]["workers"] == 2);
  CHECK(config["fit"]["workers"] == 2);
  CHECK(config["command"]["data"]["ignore_index"] == 255);
  CHECK(config["data"]["ignore_index"] == 255);
  CHECK(config["command"]["data"]["fit"] == "resize");
  CHECK(config["data"]["train_samples"] == 4);
  CHECK(config["data"]["validation_samples"] == 2);
  // Keras's CosineDecay over the whole run (6 steps), logged per epoch as the rate of its last step.
  const auto m = read_metrics(run / "metrics.csv");
  REQUIRE(m.at("learning_rate").size() == 3);
  for (size_t e = 0; e < 3; ++e) {
    const double step = 2.0 * static_cast<double>(e + 1) - 1.0;
    CHECK(m.at("learning_rate")[e] == doctest::Approx(0.01 * 0.5 * (1 + std::cos(M_PI * step / 6.0))).epsilon(1e-9));
  }
  for (double loss : m.at("loss")) CHECK(std::isfinite(loss));

  // A palette that names its classes names them in evaluate's table (and the report) without --class-names.
  write_text(tmp / "data" / "named.json", R"([{"name": "background", "color": [0, 0, 0]},)"
                                          R"( {"name": "disc", "color": [255, 0, 0]},)"
                                          R"( {"name": "unlabelled", "color": [255, 255, 255], "id": 255}])");
  const Result e = run_cli({"evaluate", "--checkpoint", (run / "checkpoints" / "last.safetensors").string(), "--data",
                            (tmp / "data").string(), "--mask", "palette:" + (tmp / "data" / "named.json").string(),
                            "--ignore-index", "255"},
                           tmp.path());
  REQUIRE_MESSAGE(e.status == 0, e.output);
  CHECK(contains(e.output, "0 background"));
  CHECK(contains(e.output, "1 disc"));
  CHECK_FALSE(contains(e.output, "unlabelled"));
}

TEST_CASE("cli: a cosine schedule spans the whole run when every sample trains (no validation split)") {
  // With no validation split the training source lists no indices ("every sample"); the schedule's length must
  // still count the samples, not the empty index list (which made the rate collapse after one step).
  TempDir tmp;
  write_palette_dataset(tmp / "data", 4);
  const fs::path run = tmp / "run";
  const Result r = run_cli(train_args({"--data", (tmp / "data").string(), "--mask",
                                       "palette:" + (tmp / "data" / "palette.json").string(), "--ignore-index",
                                       "255", "--fit", "resize", "--batch", "2", "--epochs", "3", "--val-split", "0",
                                       "--lr", "0.01", "--seed", "3", "--schedule", "cosine", "--out", run.string()}),
                           tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(read_json(run / "config.json")["data"]["train_samples"] == 4);
  const auto m = read_metrics(run / "metrics.csv");
  REQUIRE(m.at("learning_rate").size() == 3);
  for (size_t e = 0; e < 3; ++e) {
    const double step = 2.0 * static_cast<double>(e + 1) - 1.0;
    CHECK(m.at("learning_rate")[e] == doctest::Approx(0.01 * 0.5 * (1 + std::cos(M_PI * step / 6.0))).epsilon(1e-9));
  }
}

TEST_CASE("cli: predict --fit resize runs the model on the image scaled to its input, --fit tile at full size") {
  TempDir tmp;
  const fs::path run = tmp / "run";
  const Result trained = run_cli(train_args({"--batch", "8", "--epochs", "2", "--synthetic-count", "24", "--out",
                                             run.string()}),
                                 tmp.path());
  REQUIRE_MESSAGE(trained.status == 0, trained.output);
  const std::string checkpoint = (run / "checkpoints" / "last.safetensors").string();
  // A 32x32 image (the model's input) and the same image at 64x64, every pixel doubled: scaled back down (bilinear
  // halving averages 2x2 blocks) the model sees exactly the 32x32 image.
  write_grey_png(tmp / "small" / "a.png", 32, 32);
  const std::vector<uint8_t> small = png_pixels(tmp / "small" / "a.png");
  std::vector<uint8_t> doubled(64 * 64);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) doubled[y * 64 + x] = small[(y / 2) * 32 + x / 2];
  fs::create_directories(tmp / "big");
  REQUIRE(stbi_write_png((tmp / "big" / "a.png").c_str(), 64, 64, 1, doubled.data(), 64) == 1);
  auto predict = [&](const std::string& in, const std::string& fit) {
    std::vector<std::string> args = {"predict", "--checkpoint", checkpoint, "--input", (tmp / in).string(), "--out",
                                     (tmp / (in + fit)).string(), "--raw", "--no-overlay"};
    if (!fit.empty()) args.insert(args.end(), {"--fit", fit});
    const Result r = run_cli(args, tmp.path());
    REQUIRE_MESSAGE(r.status == 0, r.output);
    PngSize size;
    std::vector<uint8_t> mask = png_pixels(tmp / (in + fit) / "a_mask.png", &size);
    CHECK(size.height == (in == "big" ? 64 : 32));
    CHECK(size.width == (in == "big" ? 64 : 32));
    return mask;
  };
  const std::vector<uint8_t> direct = predict("small", ""), resized = predict("big", "resize");
  predict("big", "tile");
  // The probabilities come back up bilinearly: a pixel whose 3x3 source neighbourhood has one class keeps it (a
  // convex combination of probability rows that share their argmax has that argmax).
  int uniform = 0;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const int sy = y / 2, sx = x / 2;
      bool same = true;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int ny = std::clamp(sy + dy, 0, 31), nx = std::clamp(sx + dx, 0, 31);
          same = same && direct[ny * 32 + nx] == direct[sy * 32 + sx];
        }
      if (!same) continue;
      ++uniform;
      CHECK(resized[y * 64 + x] == direct[sy * 32 + sx]);
    }
  CHECK(uniform > 64 * 64 / 2);
}

TEST_CASE("cli: the report's loss curves are drawn from metrics.csv") {
  TempDir tmp;
  const fs::path run = tmp / "run";
  const Result r = run_cli(train_args({"--batch", "8", "--epochs", "4", "--synthetic-count", "40", "--seed", "5",
                                       "--out", run.string()}),
                           tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const auto m = read_metrics(run / "metrics.csv");
  const std::string html = read_text(run / "report.html");
  const size_t chart = html.find("aria-label='loss'");
  REQUIRE(chart != std::string::npos);
  const std::string svg = html.substr(chart, html.find("</svg>", chart) - chart);
  // The polylines of the loss chart, in legend order: loss, then val_loss.
  std::vector<std::vector<std::pair<double, double>>> lines;
  const std::regex polyline("<polyline[^>]*points='([^']*)'"), point("([-0-9.e]+),([-0-9.e]+)");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline); it != std::sregex_iterator(); ++it) {
    const std::string points = (*it)[1];
    lines.emplace_back();
    for (auto p = std::sregex_iterator(points.begin(), points.end(), point); p != std::sregex_iterator(); ++p)
      lines.back().emplace_back(std::stod((*p)[1]), std::stod((*p)[2]));
  }
  REQUIRE(lines.size() == 2);
  // One point per epoch, evenly spaced left to right; heights one affine function of the values, larger higher up.
  std::vector<std::pair<double, double>> value_y;
  for (size_t s = 0; s < 2; ++s) {
    const std::vector<double>& values = m.at(s == 0 ? "loss" : "val_loss");
    REQUIRE(lines[s].size() == values.size());
    for (size_t e = 0; e < values.size(); ++e) {
      value_y.emplace_back(values[e], lines[s][e].second);
      if (e > 0) {
        const double step = lines[s][1].first - lines[s][0].first;
        CHECK(step > 0);
        CHECK(lines[s][e].first - lines[s][e - 1].first == doctest::Approx(step).epsilon(1e-3));
      }
    }
  }
  auto [lo, hi] = std::minmax_element(value_y.begin(), value_y.end());
  REQUIRE(hi->first > lo->first);
  const double slope = (hi->second - lo->second) / (hi->first - lo->first);
  CHECK(slope < 0);
  for (const auto& [v, y] : value_y) CHECK(y == doctest::Approx(lo->second + slope * (v - lo->first)).epsilon(1e-4));
}

TEST_CASE("cli: --augmentation takes a preset, a JSON object or @FILE, and config.json records the options used") {
  TempDir tmp;
  const fs::path paper = tmp / "paper";
  const Result r = run_cli(train_args({"--epochs", "1", "--synthetic-count", "16", "--augmentation", "unet-paper",
                                       "--out", paper.string()}),
                           tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const nlohmann::json config = read_json(paper / "config.json");
  CHECK(config.at("fit").at("augment").at("elastic_sigma").get<double>() == 10.0);
  CHECK(config.at("fit").at("augment").at("fill_mode") == "reflect");
  CHECK(config.at("command").at("data").at("augmentation") == "unet-paper");

  const fs::path spec = tmp / "augment.json";
  write_text(spec, R"({"gamma": 0.2, "noise_std": 0.01, "vertical_flip": true})");
  const fs::path from_file = tmp / "from_file";
  REQUIRE(run_cli(train_args({"--epochs", "1", "--synthetic-count", "16", "--augmentation", "@" + spec.string(),
                              "--out", from_file.string()}),
                  tmp.path())
              .status == 0);
  write_text(spec, "{}");  // the run recorded the content, not the file name
  const nlohmann::json recorded = read_json(from_file / "config.json");
  CHECK(recorded.at("fit").at("augment").at("gamma").get<double>() == 0.2);
  CHECK(recorded.at("fit").at("augment").at("vertical_flip") == true);
  CHECK(nlohmann::json::parse(recorded.at("command").at("data").at("augmentation").get<std::string>()).at("gamma") == 0.2);

  for (const std::string& bad : std::vector<std::string>{"zoom", R"({"elastc": 1})", R"({"blur_sigma": 99})",
                                                          "@" + (tmp / "none.json").string()}) {
    const Result refused = run_cli(train_args({"--augmentation", bad, "--out", (tmp / "bad").string()}), tmp.path());
    CHECK(refused.status == 2);
    CHECK(contains(refused.output, "--augmentation"));
    CHECK_FALSE(fs::exists(tmp / "bad"));
  }
}

TEST_CASE("cli: --class-weights takes one weight per class or median, reaches fit and config.json, and a wrong count is refused") {
  TempDir tmp;
  const fs::path given = tmp / "given";
  REQUIRE(run_cli(train_args({"--epochs", "1", "--synthetic-count", "16", "--class-weights", "0.5,2", "--out",
                              given.string()}),
                  tmp.path())
              .status == 0);
  CHECK(read_json(given / "config.json").at("fit").at("class_weights") == nlohmann::json::array({0.5, 2.0}));

  const fs::path median = tmp / "median";
  const Result r = run_cli(
      train_args({"--epochs", "1", "--synthetic-count", "16", "--class-weights", "median", "--out", median.string()}),
      tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "Class weights (median frequency"));
  const nlohmann::json weights = read_json(median / "config.json").at("fit").at("class_weights");
  REQUIRE(weights.size() == 2);
  // the synthetic shapes cover less of an image than the background: the rarer class weighs more
  CHECK(weights[1].get<double>() > 1.0);
  CHECK(weights[0].get<double>() < 1.0);

  const Result wrong = run_cli(train_args({"--class-weights", "1,2,3", "--out", (tmp / "wrong").string()}), tmp.path());
  CHECK(wrong.status == 2);
  CHECK(contains(wrong.output, "3 weights for 2 classes"));
  CHECK_FALSE(fs::exists(tmp / "wrong"));
  CHECK(run_cli(train_args({"--class-weights", "1,x", "--out", (tmp / "bad").string()}), tmp.path()).status == 2);
}

TEST_CASE("cli: --border-weights and --class-names reach fit, config.json, the report and evaluate, and bad values are refused") {
  TempDir tmp;
  const fs::path run = tmp / "run";
  const Result r = run_cli(train_args({"--epochs", "1", "--synthetic-count", "16", "--border-weights", "10,2",
                                       "--class-names", "background,shape", "--out", run.string()}),
                           tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const nlohmann::json fit = read_json(run / "config.json").at("fit");
  CHECK(fit.at("border_weights") == nlohmann::json({{"w0", 10.0}, {"sigma", 2.0}, {"border_class", 0}}));
  CHECK(fit.at("class_names") == nlohmann::json::array({"background", "shape"}));
  const std::string report = read_text(run / "report.html");
  CHECK(contains(report, "1 shape</td>"));
  CHECK(contains(report, "id='confusion'"));
  const Result e = run_cli({"evaluate", "--checkpoint", (run / "checkpoints" / "last.safetensors").string(),
                            "--synthetic-count", "8", "--class-names", "background,shape"},
                           tmp.path());
  REQUIRE_MESSAGE(e.status == 0, e.output);
  CHECK(contains(e.output, "1 shape"));

  for (const char* bad : {"10", "10,0", "-1,5", "10,5,1.5", "a,b"}) {
    CAPTURE(bad);
    const Result refused = run_cli(train_args({"--border-weights", bad, "--out", (tmp / "bad").string()}), tmp.path());
    CHECK(refused.status == 2);
    CHECK(contains(refused.output, "--border-weights"));
  }
  const Result names = run_cli(train_args({"--class-names", "a,b,c", "--out", (tmp / "names").string()}), tmp.path());
  CHECK(names.status == 2);
  CHECK(contains(names.output, "3 names for 2 classes"));
  CHECK_FALSE(fs::exists(tmp / "bad"));
  CHECK_FALSE(fs::exists(tmp / "names"));
}

TEST_CASE("cli: --precision bf16 trains on AMX and is kept by config.json and resume, elsewhere it is refused naming the flag") {
  TempDir tmp;
  const std::vector<std::string> short_run = {"--epochs", "1", "--steps-per-epoch", "3", "--synthetic-count", "16",
                                              "--seed", "3"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = short_run;
    args.insert(args.end(), extra.begin(), extra.end());
    return train_args(args);
  };
  const Result bad = run_cli(with({"--precision", "fp16", "--out", (tmp / "bad").string()}), tmp.path());
  CHECK(bad.status == 2);
  CHECK(contains(bad.output, "--precision"));
  CHECK_FALSE(fs::exists(tmp / "bad"));

  const fs::path bf16 = tmp / "bf16", f32 = tmp / "float32";
  const Result r = run_cli(with({"--precision", "bf16", "--out", bf16.string()}), tmp.path());
  std::string why;
  if (!tg::amx_bf16_available(&why)) {
    MESSAGE("this CPU has no AMX-BF16 (" << why << "): checking the refusal only");
    CHECK(r.status == 1);
    CHECK(contains(r.output, "--precision bf16"));
    CHECK(contains(r.output, "--precision float32"));
    return;
  }
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(read_json(bf16 / "config.json").at("command").at("precision") == "bf16");
  REQUIRE(run_cli(with({"--out", f32.string()}), tmp.path()).status == 0);
  CHECK(read_json(f32 / "config.json").at("command").at("precision") == "float32");
  // Same seed, same data, same steps: the bf16 run's losses are close to float32's but not the same numbers.
  const auto a = read_metrics(bf16 / "metrics.csv").at("loss"), b = read_metrics(f32 / "metrics.csv").at("loss");
  REQUIRE(a.size() == b.size());
  CHECK(a.back() != b.back());
  CHECK(std::abs(a.back() - b.back()) < 0.05 * std::abs(b.back()));
  // Resumed, the run keeps bf16; --precision may change it (a bf16 run continued on a machine without AMX).
  REQUIRE(run_cli({"train", "--resume", bf16.string(), "--epochs", "2", "--progress", "none"}, tmp.path()).status == 0);
  CHECK(read_json(bf16 / "config.json").at("command").at("precision") == "bf16");
  REQUIRE(run_cli({"train", "--resume", bf16.string(), "--epochs", "3", "--precision", "float32", "--progress", "none"},
                  tmp.path())
              .status == 0);
  CHECK(read_json(bf16 / "config.json").at("command").at("precision") == "float32");
  const Result e = run_cli({"evaluate", "--checkpoint", (bf16 / "checkpoints" / "last.safetensors").string(),
                            "--synthetic-count", "8", "--precision", "bf16", "--json"},
                           tmp.path());
  CHECK_MESSAGE(e.status == 0, e.output);
}
