// The tapegrad command as a user meets it: run as a child process, its exit status, its messages and the files it
// writes. Models are tiny (4 filters, 2 levels, 32x32) so the whole file runs in seconds.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "cli_util.h"
#include "train/checkpoint.h"
#include "train/fit.h"

using namespace tg::cli_test;

namespace {

const std::vector<std::string> kTinyRun = {"--filters", "4", "--depth", "2", "--size", "32", "--batch", "8",
                                        "--progress", "none"};

// A tiny U-Net trained on the synthetic set into `run`.
Result train_tiny(const fs::path& run, const fs::path& scratch, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"train"};
  args.insert(args.end(), kTinyRun.begin(), kTinyRun.end());
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--out", run.string()});
  return run_cli(args, scratch);
}

// A 3-class model's checkpoint, barely trained so that its predictions still mix all classes (a few epochs on the
// synthetic set make so small a model predict background everywhere, which would hide mistakes in class handling).
fs::path trained_checkpoint(const TempDir& tmp) {
  const fs::path run = tmp / "run";
  const Result r = train_tiny(run, tmp.path(),
                              {"--classes", "3", "--epochs", "1", "--steps-per-epoch", "2", "--lr", "1e-4",
                               "--synthetic-count", "48", "--seed", "1"});
  REQUIRE_MESSAGE(r.status == 0, r.output);
  return run / "checkpoints" / "best.safetensors";
}

// The only line of a runtime failure: "tapegrad: error: ..." naming `what`.
void check_one_error_line(const Result& r, const std::string& what) {
  CHECK_MESSAGE(r.status == 1, r.output);
  const auto lines = lines_of(r.output);
  REQUIRE_MESSAGE(lines.size() == 1, r.output);
  CHECK(lines[0].rfind("tapegrad: error: ", 0) == 0);
  CHECK_MESSAGE(contains(lines[0], what), lines[0] << " should name " << what);
}

// metrics.csv rows as column -> value maps.
std::vector<std::map<std::string, std::string>> read_csv(const fs::path& path) {
  const auto lines = lines_of(read_text(path));
  REQUIRE(!lines.empty());
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream in(line);
    for (std::string cell; std::getline(in, cell, ',');) cells.push_back(cell);
    return cells;
  };
  const auto header = split(lines[0]);
  std::vector<std::map<std::string, std::string>> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto cells = split(lines[i]);
    REQUIRE(cells.size() == header.size());
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < cells.size(); ++c) row[header[c]] = cells[c];
    rows.push_back(row);
  }
  return rows;
}

bool json_has_key(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) return false;
  if (j.contains(key)) return true;
  return std::any_of(j.begin(), j.end(), [&](const nlohmann::json& v) { return json_has_key(v, key); });
}

// 31030658 -> "31,030,658", as the summary prints counts.
std::string with_commas(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("cli: bad flags and bad values exit 2 with CLI11's message and create nothing") {
  TempDir tmp;
  const std::string run = (tmp / "run").string(), missing = (tmp / "missing.safetensors").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"train", "--bogus", "--out", run}, "The following argument was not expected: --bogus"},
      {{"train", "--filters", "4"}, "--out RUN_DIR (or --resume RUN_DIR) is required"},
      {{"train", "--classes", "0", "--out", run}, "--classes: Value 0 not in range 1 to 255"},
      {{"train", "--fit", "bogus", "--out", run}, "--fit: bogus not in {resize,crop}"},
      {{"train", "--lr", "fast", "--out", run}, "--lr"},
      {{"train", "--out", run, "--resume", tmp.path().string()}, "excludes"},
      {{"predict", "--checkpoint", missing, "--input", run, "--out", run}, "--checkpoint: File does not exist: " + missing},
      {{"evaluate", "--checkpoint", missing}, "--checkpoint: File does not exist: " + missing},
      {{"frobnicate"}, "A subcommand is required"},
      {{}, "A subcommand is required"},
  };
  for (const auto& [args, message] : cases) {
    const Result r = run_cli(args, tmp.path());
    INFO("tapegrad " << (args.empty() ? "" : args[0]) << " ... -> " << r.output);
    CHECK(r.status == 2);
    CHECK(contains(r.output, message));
    CHECK(contains(r.output, "Run with --help for more information."));
    CHECK_FALSE(fs::exists(run));
  }
  const Result help = run_cli({"train", "--help"}, tmp.path());
  CHECK(help.status == 0);
  CHECK(contains(help.output, "--resume"));
}

TEST_CASE("cli: runtime failures exit 1 with one line naming the file or value") {
  TempDir tmp;
  const fs::path checkpoint = trained_checkpoint(tmp);

  {
    INFO("training data folder that does not exist");
    const fs::path run = tmp / "run2";
    check_one_error_line(train_tiny(run, tmp.path(), {"--data", "/nonexistent/membrane"}), "/nonexistent/membrane");
    CHECK_FALSE(fs::exists(run));
  }
  {
    INFO("training into a folder that already holds a run");
    const Result r = train_tiny(tmp / "run", tmp.path(), {"--classes", "3", "--epochs", "1", "--synthetic-count", "48"});
    CHECK(r.status == 1);
    CHECK(contains(r.output, (tmp / "run").string()));
    CHECK(contains(r.output, "resume"));
    CHECK(contains(r.output, "pass --overwrite to replace it"));
    const Result replaced = train_tiny(tmp / "run", tmp.path(),
                                       {"--classes", "3", "--epochs", "1", "--synthetic-count", "48", "--overwrite"});
    CHECK_MESSAGE(replaced.status == 0, replaced.output);
  }
  {
    INFO("evaluation data folder that does not exist");
    // Named before anything else is checked: the default binary masks do not fit this 3-class model either.
    check_one_error_line(run_cli({"evaluate", "--checkpoint", checkpoint.string(), "--data", "/nonexistent/set"},
                                 tmp.path()),
                         "--data /nonexistent/set: no such folder");
  }
  {
    INFO("predict on a folder with no images");
    fs::create_directories(tmp / "empty");
    write_text(tmp / "empty" / "notes.txt", "no pictures here");
    check_one_error_line(run_cli({"predict", "--checkpoint", checkpoint.string(), "--input", (tmp / "empty").string(),
                                  "--out", (tmp / "pred").string()},
                                 tmp.path()),
                         (tmp / "empty").string() + ": no images");
  }
  {
    INFO("predict on an input that does not exist");
    check_one_error_line(run_cli({"predict", "--checkpoint", checkpoint.string(), "--input",
                                  (tmp / "nope.png").string(), "--out", (tmp / "pred").string()},
                                 tmp.path()),
                         (tmp / "nope.png").string());
  }
  {
    INFO("predict with a colour image on a grey model");
    std::vector<uint8_t> px(16 * 16 * 3);
    for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i % 3 == 0 ? 250 : 10);  // red
    REQUIRE(stbi_write_png((tmp / "red.png").c_str(), 16, 16, 3, px.data(), 16 * 3) == 1);
    check_one_error_line(run_cli({"predict", "--checkpoint", checkpoint.string(), "--input",
                                  (tmp / "red.png").string(), "--out", (tmp / "pred").string()},
                                 tmp.path()),
                         (tmp / "red.png").string());
  }
  {
    INFO("a truncated checkpoint");
    const std::string bytes = read_text(checkpoint);
    write_text(tmp / "cut.safetensors", bytes.substr(0, bytes.size() / 2));
    for (const char* command : {"predict", "evaluate", "summary"}) {
      std::vector<std::string> args = {command, "--checkpoint", (tmp / "cut.safetensors").string()};
      if (std::string(command) == "predict") args.insert(args.end(), {"--input", (tmp / "x.png").string(), "--out", (tmp / "p").string()});
      INFO(command);
      check_one_error_line(run_cli(args, tmp.path()), (tmp / "cut.safetensors").string());
    }
  }
  {
    INFO("a file that is not a checkpoint at all");
    write_text(tmp / "notes.safetensors", "these are not weights\n");
    check_one_error_line(run_cli({"summary", "--checkpoint", (tmp / "notes.safetensors").string()}, tmp.path()),
                         (tmp / "notes.safetensors").string());
  }
  {
    INFO("a malformed --input shape");
    check_one_error_line(run_cli({"summary", "--input", "256,x,1"}, tmp.path()), "--input 256,x,1");
  }
}

TEST_CASE("cli: train on the synthetic set writes config.json with every setting, logs, metrics, checkpoints, report") {
  TempDir tmp;
  const fs::path run = tmp / "run";
  const Result r = train_tiny(run, tmp.path(),
                              {"--classes", "3", "--epochs", "2", "--synthetic-count", "40", "--seed", "7", "--lr",
                               "0.002", "--val-split", "0.25", "--dropout", "0.3"});
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "report: " + (run / "report.html").string()));
  for (const char* file : {"config.json", "log.txt", "metrics.csv", "report.html", "checkpoints/last.safetensors",
                           "checkpoints/best.safetensors"})
    CHECK_MESSAGE(fs::is_regular_file(run / file), file);

  const nlohmann::json config = read_json(run / "config.json");
  REQUIRE(config.contains("command"));
  const nlohmann::json& command = config["command"];
  CHECK(command["seed"] == 7);
  CHECK(command["lr"] == 0.002);
  CHECK(command["epochs"] == 2);
  CHECK(command["batch"] == 8);
  CHECK(command["model"]["filters"] == 4);
  CHECK(command["model"]["depth"] == 2);
  CHECK(command["model"]["size"] == 32);
  CHECK(command["model"]["classes"] == 3);
  CHECK(command["model"]["dropout"] == 0.3);
  CHECK(command["data"]["data"] == "synthetic");
  CHECK(command["data"]["synthetic_count"] == 40);
  CHECK(command["data"]["val_split"] == 0.25);
  CHECK(config["fit"]["seed"] == 7);
  CHECK(config["data"]["train_samples"] == 30);
  CHECK(config["data"]["validation_samples"] == 10);

  // Every flag of `train --help` that shapes the run is recorded (display and location flags aside).
  const Result help = run_cli({"train", "--help"}, tmp.path());
  REQUIRE(help.status == 0);
  const std::set<std::string> not_settings = {"help", "out", "resume", "threads", "progress", "no_cache", "max_image_pixels", "overwrite", "profile"};
  std::set<std::string> flags;
  const std::regex flag("--([a-z][a-z-]*)");
  for (auto it = std::sregex_iterator(help.output.begin(), help.output.end(), flag); it != std::sregex_iterator(); ++it) {
    std::string key = (*it)[1];
    std::replace(key.begin(), key.end(), '-', '_');
    flags.insert(key);
  }
  CHECK(flags.size() > 30);
  for (const std::string& key : flags)
    if (!not_settings.count(key)) CHECK_MESSAGE(json_has_key(command, key), "config.json lacks --" << key);
  CHECK(config["threads"] == 1);  // the thread count it ran with (spawn_cli sets OMP_NUM_THREADS=1)

  const auto rows = read_csv(run / "metrics.csv");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at("epoch") == "1");
  CHECK(rows[1].at("epoch") == "2");
  for (const auto& row : rows) {
    CHECK(std::isfinite(std::stod(row.at("loss"))));
    CHECK(std::isfinite(std::stod(row.at("val_loss"))));
    CHECK(row.count("val_dice_2"));
  }
  CHECK(std::stod(rows[1].at("loss")) < std::stod(rows[0].at("loss")));
  const std::string log = read_text(run / "log.txt");
  CHECK(contains(log, "Epoch 2/2"));
  CHECK(contains(log, "seed 7"));
  CHECK(contains(log, "Finished 2 epochs"));

  // The checkpoints hold the trained model.
  const tg::Model model = tg::load_model(run / "checkpoints" / "last.safetensors");
  CHECK(model.input_shape() == tg::Shape{32, 32, 1});
  CHECK(model.output_shape().back() == 3);
}

TEST_CASE("cli: report.html holds the loss curves, sample grid, model summary and config") {
  TempDir tmp;
  const fs::path run = tmp / "run";
  const Result r = train_tiny(run, tmp.path(),
                              {"--epochs", "2", "--synthetic-count", "40", "--seed", "11", "--report-samples", "4"});
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const std::string html = read_text(run / "report.html");
  for (const char* section : {"id='curves'", "id='samples'", "id='model'", "id='config'", "id='throughput'"})
    CHECK_MESSAGE(contains(html, section), section);
  const size_t curves = html.find("id='curves'"), samples = html.find("id='samples'");
  const size_t model = html.find("id='model'"), config = html.find("id='config'");
  CHECK(contains(html.substr(curves, samples > curves ? samples - curves : std::string::npos), "<polyline"));
  // Image, ground truth and prediction for each of the 4 validation samples, inline.
  CHECK(count_of(html, "src='data:image/png;base64,") + count_of(html, "src=\"data:image/png;base64,") == 12);
  CHECK(contains(html.substr(model), "Total params: " + with_commas(tg::load_model(
                                                          run / "checkpoints" / "last.safetensors").count_params())));
  CHECK(contains(html.substr(config), "&quot;seed&quot;: 11"));
  CHECK(contains(html, "epoch 2 of 2"));
  CHECK_FALSE(contains(html, "<script"));
}

TEST_CASE("cli: out-of-range threads, seeds, overlaps and clashing predict inputs are refused, naming the flag") {
  TempDir tmp;
  for (const auto& [args, expected] :
       {std::pair<std::vector<std::string>, std::string>{{"train", "--threads", "10000", "--out", "x"}, "--threads"},
        {{"train", "--threads", "-1", "--out", "x"}, "--threads"},
        {{"train", "--seed", "-1", "--out", "x"}, "--seed: -1 is below 0"},
        {{"evaluate", "--checkpoint", "/dev/null", "--seed", "-5"}, "--seed"},
        // Training's data flags would do nothing in evaluate: refused rather than silently ignored.
        {{"evaluate", "--checkpoint", "/dev/null", "--random-phase"}, "--random-phase"},
        {{"evaluate", "--checkpoint", "/dev/null", "--augment"}, "--augment"},
        {{"evaluate", "--checkpoint", "/dev/null", "--val-names", "1"}, "--val-names"},
        {{"predict", "--checkpoint", "/dev/null", "--input", "/dev/null", "--out", "o", "--overlap", "-3"},
         "--overlap: -3 is below 0"}}) {
    const std::string command = args[0] + " " + args[1] + " " + args[2];
    CAPTURE(command);
    const Result r = run_cli(args, tmp.path());
    CHECK(r.status == 2);
    CHECK_MESSAGE(contains(r.output, expected), r.output);
    CHECK_FALSE(fs::exists(tmp / "x"));
  }
  const fs::path checkpoint = trained_checkpoint(tmp);  // a 32x32 input
  write_grey_png(tmp / "in" / "a.png", 40, 40);
  const auto predict = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"predict", "--checkpoint", checkpoint.string(), "--input", (tmp / "in").string(),
                                     "--out", (tmp / "out").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args, tmp.path());
  };
  // An overlap as large as the tile made the stride 1 (28 s for one image); now it is named.
  check_one_error_line(predict({"--overlap", "32"}), "overlap 32: tiles of 32x32 can share 0 to 31 pixels");
  CHECK(predict({"--overlap", "31"}).status == 0);
  // a.png and a.bmp would both become a_mask.png.
  fs::copy_file(tmp / "in" / "a.png", tmp / "in" / "a.bmp");
  fs::remove_all(tmp / "out");
  check_one_error_line(predict({}), "a.bmp and a.png would both be written as a_mask.png");
  CHECK_FALSE(fs::exists(tmp / "out" / "a_mask.png"));
}

TEST_CASE("cli: train --ema M averages the weights: refused outside (0, 1), recorded in config.json, kept on resume") {
  TempDir tmp;
  for (const char* bad : {"0", "1", "1.5", "-0.1", "often"}) {
    CAPTURE(bad);
    const Result r = run_cli({"train", "--ema", bad, "--out", "x"}, tmp.path());
    CHECK(r.status == 2);
    CHECK_MESSAGE(contains(r.output, "--ema"), r.output);
    CHECK_FALSE(fs::exists(tmp / "x"));
  }
  CHECK(contains(run_cli({"train", "--ema", "1", "--out", "x"}, tmp.path()).output,
                 "--ema: 1 is not between 0 and 1 (both excluded)"));

  const fs::path run = tmp / "run";
  const Result r = train_tiny(run, tmp.path(),
                              {"--ema", "0.9", "--epochs", "1", "--steps-per-epoch", "2", "--synthetic-count", "24"});
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const nlohmann::json config = read_json(run / "config.json");
  CHECK(config["command"]["ema"] == 0.9);
  CHECK(config["fit"]["optimizer"]["use_ema"] == true);
  CHECK(config["fit"]["optimizer"]["ema_momentum"] == 0.9);
  CHECK(contains(read_text(run / "log.txt"), "(weights averaged, EMA momentum 0.9)"));
  // The checkpoint's model is the averages; the weights being trained travel beside them.
  const tg::train::Checkpoint last = tg::train::load_checkpoint(run / "checkpoints" / "last.safetensors");
  CHECK(std::any_of(last.tensors.begin(), last.tensors.end(),
                    [](const tg::NamedTensor& t) { return t.name.ends_with("/training_weight"); }));

  const Result resumed =
      run_cli({"train", "--resume", run.string(), "--epochs", "2", "--progress", "none"}, tmp.path());
  REQUIRE_MESSAGE(resumed.status == 0, resumed.output);
  CHECK(contains(resumed.output, "(weights averaged, EMA momentum 0.9)"));
  CHECK(read_json(run / "config.json")["command"]["ema"] == 0.9);
  const Result changed = run_cli({"train", "--resume", run.string(), "--epochs", "3", "--ema", "0.5"}, tmp.path());
  CHECK(changed.status == 2);
  CHECK(contains(changed.output, "--ema"));
  CHECK(contains(changed.output, "cannot change a run being resumed"));
}

TEST_CASE("cli: --val-names holds out synthetic samples by their zero-padded stems, --val needs a folder") {
  TempDir tmp;
  const Result r = train_tiny(tmp / "run", tmp.path(),
                              {"--epochs", "1", "--synthetic-count", "10", "--val-names", "00007-00009"});
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const auto config = read_json(tmp / "run" / "config.json");
  CHECK(config["data"]["validation_samples"] == 3);
  CHECK(config["data"]["train_samples"] == 7);
  check_one_error_line(train_tiny(tmp / "run2", tmp.path(), {"--val", (tmp / "elsewhere").string()}), "--val");
}

TEST_CASE("cli: predict, evaluate and summary refuse a damaged checkpoint and one with NaN weights, naming the file") {
  TempDir tmp;
  const fs::path good = trained_checkpoint(tmp);
  write_grey_png(tmp / "in" / "a.png", 32, 32);
  // One bit flipped near the end of the data: what resume already refused.
  std::string bytes = read_text(good);
  bytes[bytes.size() - 5] = static_cast<char>(bytes[bytes.size() - 5] ^ 0x10);
  write_text(tmp / "flipped.safetensors", bytes);
  // A diverged run's checkpoint: NaN in a weight, with a checksum that matches.
  tg::train::Checkpoint diverged = tg::train::load_checkpoint(good);
  const auto kernel = std::find_if(diverged.tensors.begin(), diverged.tensors.end(),
                                   [](const tg::NamedTensor& t) { return t.name.ends_with("/kernel"); });
  REQUIRE(kernel != diverged.tensors.end());
  kernel->tensor.set_flat(3, std::nan(""));
  tg::train::save_checkpoint(tmp / "nan.safetensors", diverged);

  for (const auto& [file, expected] : {std::pair<std::string, std::string>{"flipped.safetensors", "checksum"},
                                       {"nan.safetensors", "NaN or infinite values"}}) {
    const std::string path = (tmp / file).string();
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"predict", "--checkpoint", path, "--input", (tmp / "in").string(), "--out",
                                   (tmp / "out").string()},
          std::vector<std::string>{"evaluate", "--checkpoint", path, "--synthetic-count", "4"},
          std::vector<std::string>{"summary", "--checkpoint", path}}) {
      CAPTURE(args[0]);
      const Result r = run_cli(args, tmp.path());
      check_one_error_line(r, path);
      CHECK_MESSAGE(contains(r.output, expected), r.output);
    }
  }
  CHECK_FALSE(fs::exists(tmp / "out" / "a_mask.png"));
  // The undamaged file still works for all three.
  CHECK(run_cli({"summary", "--checkpoint", good.string()}, tmp.path()).status == 0);
}

TEST_CASE("cli: predict writes NAME_mask.png and NAME_overlay.png at each input's size, tiling large inputs") {
  TempDir tmp;
  const fs::path checkpoint = trained_checkpoint(tmp);
  const fs::path in = tmp / "in";
  // Exactly the model's input, larger (tiled), another aspect with one side smaller than the input, odd sizes.
  const std::map<std::string, std::pair<int, int>> sizes = {
      {"same", {32, 32}}, {"large", {80, 96}}, {"wide", {24, 56}}, {"odd", {45, 37}}};
  for (const auto& [name, hw] : sizes) write_grey_png(in / (name + ".png"), hw.first, hw.second);

  const fs::path out = tmp / "out";
  const Result r = run_cli({"predict", "--checkpoint", checkpoint.string(), "--input", in.string(), "--out",
                            out.string()},
                           tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const Result raw = run_cli({"predict", "--checkpoint", checkpoint.string(), "--input", in.string(), "--out",
                              (tmp / "raw").string(), "--raw", "--no-overlay"},
                             tmp.path());
  REQUIRE_MESSAGE(raw.status == 0, raw.output);
  std::set<uint8_t> classes_seen;
  for (const auto& [name, hw] : sizes) {
    INFO(name);
    const auto [h, w] = hw;
    CHECK(contains(r.output, (out / (name + "_mask.png")).string() + " (" + std::to_string(w) + "x" + std::to_string(h)));
    CHECK(png_size(out / (name + "_mask.png")) == PngSize{w, h, 1});
    CHECK(png_size(out / (name + "_overlay.png")) == PngSize{w, h, 3});
    CHECK(png_size(tmp / "raw" / (name + "_mask.png")) == PngSize{w, h, 1});
    CHECK_FALSE(fs::exists(tmp / "raw" / (name + "_overlay.png")));
    // --raw holds the class ids; the default spreads the same classes over 0, 128, 255.
    const auto spread = png_pixels(out / (name + "_mask.png"));
    const auto ids = png_pixels(tmp / "raw" / (name + "_mask.png"));
    REQUIRE(spread.size() == ids.size());
    const uint8_t grey[3] = {0, 128, 255};
    size_t mismatches = 0, out_of_range = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] > 2) ++out_of_range;
      else if (spread[i] != grey[ids[i]]) ++mismatches;
    }
    CHECK(out_of_range == 0);
    CHECK(mismatches == 0);
    classes_seen.insert(ids.begin(), ids.end());
  }
  CHECK(classes_seen.size() >= 2);  // else the comparison above proves little
  // One file works as well as a folder.
  const Result one = run_cli({"predict", "--checkpoint", checkpoint.string(), "--input", (in / "wide.png").string(),
                              "--out", (tmp / "one").string()},
                             tmp.path());
  REQUIRE_MESSAGE(one.status == 0, one.output);
  CHECK(png_pixels(tmp / "one" / "wide_mask.png") == png_pixels(out / "wide_mask.png"));
}

TEST_CASE("cli: evaluate --json reports pixel accuracy, per-class Dice and IoU that match predict's masks") {
  TempDir tmp;
  const fs::path data = tmp / "set";
  REQUIRE(run_cli({"synth", "--out", data.string(), "--count", "6", "--size", "32", "--classes", "3", "--seed", "5"},
                  tmp.path()).status == 0);
  const fs::path checkpoint = trained_checkpoint(tmp);
  const Result r = run_cli({"evaluate", "--checkpoint", checkpoint.string(), "--data", data.string(), "--mask",
                            "index", "--json"},
                           tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const nlohmann::json m = nlohmann::json::parse(r.output);
  CHECK(m["samples"] == 6);
  for (const char* key : {"pixel_accuracy", "mean_iou", "mean_dice", "loss", "dice_0", "dice_1", "dice_2", "iou_0",
                          "iou_1", "iou_2"})
    REQUIRE_MESSAGE(m.contains(key), key);
  CHECK(std::isfinite(m["loss"].get<double>()));
  CHECK(m["loss"].get<double>() > 0);

  // Recount from the masks on disk and `predict --raw` on the same images.
  REQUIRE(run_cli({"predict", "--checkpoint", checkpoint.string(), "--input", (data / "images").string(), "--out",
                   (tmp / "pred").string(), "--raw", "--no-overlay"},
                  tmp.path()).status == 0);
  int64_t confusion[3][3] = {};
  int64_t total = 0;
  for (const auto& entry : fs::directory_iterator(data / "masks")) {
    const auto truth = png_pixels(entry.path());
    const auto predicted = png_pixels(tmp / "pred" / (entry.path().stem().string() + "_mask.png"));
    REQUIRE(truth.size() == predicted.size());
    for (size_t i = 0; i < truth.size(); ++i) {
      REQUIRE(truth[i] < 3);
      REQUIRE(predicted[i] < 3);
      ++confusion[truth[i]][predicted[i]];
      ++total;
    }
  }
  REQUIRE(total == 6 * 32 * 32);
  // Tolerance: a handful of pixels whose top two classes tie to float rounding may differ between batch sizes.
  const double tolerance = 5.0 / static_cast<double>(total);
  CHECK(std::fabs(m["pixel_accuracy"].get<double>() -
                  static_cast<double>(confusion[0][0] + confusion[1][1] + confusion[2][2]) / total) <= tolerance);
  double iou_sum = 0;
  int present = 0;
  for (int k = 0; k < 3; ++k) {
    INFO("class " << k);
    int64_t tp = confusion[k][k], fp = 0, fn = 0;
    for (int j = 0; j < 3; ++j)
      if (j != k) fp += confusion[j][k], fn += confusion[k][j];
    const double iou = m["iou_" + std::to_string(k)], dice = m["dice_" + std::to_string(k)];
    CHECK(iou >= 0.0);
    CHECK(iou <= 1.0);
    CHECK(dice == doctest::Approx(2 * iou / (1 + iou)));
    if (tp + fp + fn > 0) {
      CHECK(std::fabs(iou - static_cast<double>(tp) / (tp + fp + fn)) <= tolerance * 10);
      iou_sum += iou, ++present;
    }
  }
  REQUIRE(present >= 2);
  CHECK(m["mean_iou"].get<double>() == doctest::Approx(iou_sum / present));

  const Result table = run_cli({"evaluate", "--checkpoint", checkpoint.string(), "--data", data.string(), "--mask",
                                "index"},
                               tmp.path());
  REQUIRE(table.status == 0);
  CHECK(contains(table.output, "(6 samples)"));
  CHECK(contains(table.output, "pixel_accuracy"));
  // One row per class, in class order, with the JSON's figures.
  CHECK(contains(table.output, "class         IoU     Dice"));
  for (int c = 0; c < 3; ++c) {
    char row[64];
    std::snprintf(row, sizeof row, "  %-8d %8.4f %8.4f", c, m["iou_" + std::to_string(c)].get<double>(),
                  m["dice_" + std::to_string(c)].get<double>());
    CHECK_MESSAGE(contains(table.output, row), row);
  }
}

TEST_CASE("cli: evaluate --tta scores the masks predict --tta writes") {
  TempDir tmp;
  const fs::path data = tmp / "set";
  REQUIRE(run_cli({"synth", "--out", data.string(), "--count", "4", "--size", "32", "--classes", "3", "--seed", "8"},
                  tmp.path()).status == 0);
  const fs::path checkpoint = trained_checkpoint(tmp);
  const Result r = run_cli({"evaluate", "--checkpoint", checkpoint.string(), "--data", data.string(), "--mask",
                            "index", "--json", "--tta"},
                           tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const nlohmann::json m = nlohmann::json::parse(r.output);
  CHECK(m["tta"] == true);
  REQUIRE(run_cli({"predict", "--checkpoint", checkpoint.string(), "--input", (data / "images").string(), "--out",
                   (tmp / "pred").string(), "--raw", "--no-overlay", "--tta"},
                  tmp.path()).status == 0);
  int64_t right = 0, total = 0;
  for (const auto& entry : fs::directory_iterator(data / "masks")) {
    const auto truth = png_pixels(entry.path());
    const auto predicted = png_pixels(tmp / "pred" / (entry.path().stem().string() + "_mask.png"));
    REQUIRE(truth.size() == predicted.size());
    for (size_t i = 0; i < truth.size(); ++i) right += truth[i] == predicted[i], ++total;
  }
  REQUIRE(total == 4 * 32 * 32);
  // A handful of pixels whose top two classes tie to float rounding may differ between the two paths.
  CHECK(std::fabs(m["pixel_accuracy"].get<double>() - static_cast<double>(right) / total) <= 5.0 / total);
  const Result table = run_cli({"evaluate", "--checkpoint", checkpoint.string(), "--data", data.string(), "--mask",
                                "index", "--tta"},
                               tmp.path());
  CHECK(contains(table.output, "(4 samples, test-time augmentation over flips and transposes)"));
}

TEST_CASE("cli: evaluate --full-size scores predict's whole-image masks against the masks at the files' size") {
  TempDir tmp;
  const fs::path data = tmp / "set";
  // 48x48 files for a model with a 32x32 input.
  REQUIRE(run_cli({"synth", "--out", data.string(), "--count", "3", "--size", "48", "--classes", "3", "--seed", "9"},
                  tmp.path()).status == 0);
  const fs::path checkpoint = trained_checkpoint(tmp);
  for (const std::string fit : {"resize", "tile"}) {
    CAPTURE(fit);
    const std::string data_fit = fit == "tile" ? "crop" : "resize";
    const Result r = run_cli({"evaluate", "--checkpoint", checkpoint.string(), "--data", data.string(), "--mask",
                              "index", "--json", "--full-size", "--fit", data_fit},
                             tmp.path());
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const nlohmann::json m = nlohmann::json::parse(r.output);
    CHECK(m["full_size"] == true);
    const fs::path out = tmp / ("pred-" + fit);
    REQUIRE(run_cli({"predict", "--checkpoint", checkpoint.string(), "--input", (data / "images").string(), "--out",
                     out.string(), "--raw", "--no-overlay", "--fit", fit},
                    tmp.path()).status == 0);
    int64_t right = 0, total = 0, tp0 = 0, fp0 = 0, fn0 = 0;
    for (const auto& entry : fs::directory_iterator(data / "masks")) {
      const auto truth = png_pixels(entry.path());
      const auto predicted = png_pixels(out / (entry.path().stem().string() + "_mask.png"));
      REQUIRE(truth.size() == predicted.size());
      for (size_t i = 0; i < truth.size(); ++i) {
        right += truth[i] == predicted[i], ++total;
        tp0 += truth[i] == 0 && predicted[i] == 0, fp0 += truth[i] != 0 && predicted[i] == 0;
        fn0 += truth[i] == 0 && predicted[i] != 0;
      }
    }
    REQUIRE(total == 3 * 48 * 48);
    CHECK(std::fabs(m["pixel_accuracy"].get<double>() - static_cast<double>(right) / total) <= 3.0 / total);
    if (tp0 + fp0 + fn0 > 0)
      CHECK(m["iou_0"].get<double>() == doctest::Approx(static_cast<double>(tp0) / (tp0 + fp0 + fn0)).epsilon(0.01));
  }
  check_one_error_line(run_cli({"evaluate", "--checkpoint", checkpoint.string(), "--full-size"}, tmp.path()),
                       "--data synthetic has no files");
}

TEST_CASE("cli: --interpolation nearest is recorded by train and followed by evaluate --full-size and predict") {
  TempDir tmp;
  const fs::path data = tmp / "set";
  REQUIRE(run_cli({"synth", "--out", data.string(), "--count", "4", "--size", "48", "--classes", "3", "--seed", "9"},
                  tmp.path()).status == 0);
  const fs::path run = tmp / "run";
  const Result trained = train_tiny(run, tmp.path(),
                                    {"--data", data.string(), "--mask", "index", "--classes", "3", "--fit", "resize",
                                     "--interpolation", "nearest", "--epochs", "1", "--steps-per-epoch", "2", "--lr",
                                     "1e-4", "--val-split", "0.25", "--seed", "1"});
  REQUIRE_MESSAGE(trained.status == 0, trained.output);
  const nlohmann::json config = nlohmann::json::parse(read_text(run / "config.json"));
  CHECK(config["predict_fit"] == "resize");
  CHECK(config["predict_interpolation"] == "nearest");
  CHECK(config["command"]["data"]["interpolation"] == "nearest");
  const std::string checkpoint = (run / "checkpoints" / "best.safetensors").string();
  auto full_size = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"evaluate", "--checkpoint", checkpoint, "--data", data.string(), "--mask",
                                     "index", "--json", "--full-size"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Result r = run_cli(args, tmp.path());
    REQUIRE_MESSAGE(r.status == 0, r.output);
    return nlohmann::json::parse(r.output);
  };
  const nlohmann::json as_run = full_size({}), nearest = full_size({"--interpolation", "nearest"}),
                       bilinear = full_size({"--interpolation", "bilinear"});
  CHECK(as_run == nearest);
  CHECK(as_run != bilinear);  // 48 -> 32 by nearest and by bilinear give the model different images
  auto masks = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {"predict", "--checkpoint", checkpoint, "--input", (data / "images").string(),
                                     "--out", (tmp / name).string(), "--raw", "--no-overlay"};
    args.insert(args.end(), extra.begin(), extra.end());
    REQUIRE(run_cli(args, tmp.path()).status == 0);
    std::vector<uint8_t> all;
    for (const char* stem : {"00000", "00001", "00002", "00003"}) {
      const auto px = png_pixels(tmp / name / (std::string(stem) + "_mask.png"));
      all.insert(all.end(), px.begin(), px.end());
    }
    return all;
  };
  CHECK(masks("as-run", {}) == masks("nearest", {"--interpolation", "nearest"}));
  CHECK(masks("as-run", {}) != masks("bilinear", {"--interpolation", "bilinear"}));
}

TEST_CASE("cli: summary prints Keras's parameter count for the seed U-Net and for a checkpoint's model" * doctest::test_suite("slow")) {
  TempDir tmp;
  const Result seed = run_cli({"summary", "--model", "unet", "--input", "256,256,1", "--classes", "2"}, tmp.path());
  REQUIRE_MESSAGE(seed.status == 0, seed.output);
  CHECK(contains(seed.output, "Total params: 31,030,658"));
  CHECK(contains(seed.output, "(0, 1, 0, 1)"));  // the 2x2 up-convolutions pad one row and column after

  const fs::path checkpoint = trained_checkpoint(tmp);
  const tg::Model model = tg::load_model(checkpoint);
  const Result stored = run_cli({"summary", "--checkpoint", checkpoint.string()}, tmp.path());
  REQUIRE_MESSAGE(stored.status == 0, stored.output);
  CHECK(contains(stored.output, "Total params: " + with_commas(model.count_params())));
}

TEST_CASE("cli: synth writes images/ and masks/, refuses a folder that already holds them, and its hint trains") {
  TempDir tmp;
  const fs::path dir = tmp / "shapes";
  const Result r = run_cli({"synth", "--out", dir.string(), "--count", "5", "--size", "24", "--classes", "3"},
                           tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  for (const char* sub : {"images", "masks"}) {
    size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir / sub)) {
      ++files;
      CHECK(png_size(entry.path()) == PngSize{24, 24, 1});
      if (std::string(sub) == "masks")
        for (uint8_t v : png_pixels(entry.path())) REQUIRE(v < 3);
    }
    CHECK(files == 5);
  }
  const Result again = run_cli({"synth", "--out", dir.string(), "--count", "2", "--size", "24"}, tmp.path());
  CHECK(again.status == 1);
  CHECK(contains(again.output, (dir / "images").string()));

  // The command synth suggests trains on what it wrote.
  std::smatch hint;
  REQUIRE(std::regex_search(r.output, hint, std::regex("tapegrad (train [^\\n]*) --out RUN_DIR")));
  std::vector<std::string> args;
  std::stringstream words(hint[1].str());
  for (std::string word; words >> word;) args.push_back(word);
  CHECK(args == std::vector<std::string>{"train", "--data", dir.string(), "--mask", "index", "--classes", "3",
                                         "--size", "24"});
  args.insert(args.end(), {"--filters", "4", "--depth", "2", "--epochs", "1", "--batch", "4", "--progress", "none",
                           "--out", (tmp / "run").string()});
  const Result trained = run_cli(args, tmp.path());
  CHECK_MESSAGE(trained.status == 0, trained.output);
  CHECK(fs::exists(tmp / "run" / "checkpoints" / "last.safetensors"));
}

TEST_CASE("cli: train --resume RUN_DIR --epochs N extends a finished run to N epochs") {
  TempDir tmp;
  const fs::path run = tmp / "run";
  REQUIRE(train_tiny(run, tmp.path(), {"--epochs", "1", "--synthetic-count", "24"}).status == 0);
  REQUIRE(read_csv(run / "metrics.csv").size() == 1);
  const Result r = run_cli({"train", "--resume", run.string(), "--epochs", "3", "--progress", "none"}, tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const auto rows = read_csv(run / "metrics.csv");
  REQUIRE(rows.size() == 3);
  for (size_t i = 0; i < rows.size(); ++i) CHECK(rows[i].at("epoch") == std::to_string(i + 1));
  CHECK(contains(r.output, "Finished 3 epochs"));
  // Asking again for what is done trains nothing more.
  const Result again = run_cli({"train", "--resume", run.string(), "--epochs", "3", "--progress", "none"}, tmp.path());
  CHECK(again.status == 0);
  CHECK(read_csv(run / "metrics.csv").size() == 3);
  // --resume needs a folder.
  CHECK(run_cli({"train", "--resume", (tmp / "none").string()}, tmp.path()).status == 2);
  // A resumed run keeps its settings: a flag that would not apply is bad usage, named, and nothing is trained.
  const std::string config_before = read_text(run / "config.json");
  const Result changed = run_cli({"train", "--resume", run.string(), "--epochs", "4", "--batch", "4"}, tmp.path());
  CHECK(changed.status == 2);
  CHECK(contains(changed.output, "--batch"));
  CHECK(contains(changed.output, "cannot change a run being resumed"));
  CHECK(read_csv(run / "metrics.csv").size() == 3);
  CHECK(read_text(run / "config.json") == config_before);
}

TEST_CASE("cli: train --resume refuses saved settings that the flags would refuse, naming config.json and the flag") {
  TempDir tmp;
  const fs::path run = tmp / "run";
  REQUIRE(train_tiny(run, tmp.path(), {"--epochs", "1", "--synthetic-count", "24"}).status == 0);
  const std::string original = read_text(run / "config.json");
  struct Edit {
    const char* section;  // "" = the command's top level
    const char* key;
    nlohmann::json value;
    const char* expected;
  };
  for (const Edit& e : {Edit{"", "batch", 0, "--batch: 0 is not above 0"},            // was SIGFPE (exit 136)
                        Edit{"", "lr", -1.0, "--lr: -1"},
                        Edit{"", "workers", -3, "--workers: -3 is below 0"},
                        Edit{"data", "fit", "zoom", "--fit: zoom not in {resize,crop}"},
                        Edit{"model", "filters", 5000000, "--filters: Value 5000000 not in range 1 to 4096"},
                        Edit{"", "batch", "two", "wrong type"}}) {
    CAPTURE(e.key);
    nlohmann::json config = nlohmann::json::parse(original);
    nlohmann::json& section = *e.section ? config["command"][e.section] : config["command"];
    section[e.key] = e.value;
    write_text(run / "config.json", config.dump(2));
    const Result r = run_cli({"train", "--resume", run.string(), "--epochs", "2", "--progress", "none"}, tmp.path());
    CHECK(r.status == 1);
    CHECK_MESSAGE(contains(r.output, "config.json"), r.output);
    CHECK_MESSAGE(contains(r.output, e.expected), r.output);
    CHECK(read_csv(run / "metrics.csv").size() == 1);  // nothing trained
  }
  // Range errors name the bound, not DBL_MAX in 300 digits.
  const Result lr = run_cli({"train", "--out", (tmp / "other").string(), "--lr", "0"}, tmp.path());
  CHECK(lr.status == 2);
  CHECK(contains(lr.output, "--lr: 0 is not above 0"));
  CHECK(lr.output.size() < 200);
}

TEST_CASE("cli: SIGINT during training exits 130, leaves a loadable checkpoint and says how to resume") {
  TempDir tmp;
  const fs::path run = tmp / "run", log = tmp / "train.log";
  std::vector<std::string> args = {"train"};
  args.insert(args.end(), kTinyRun.begin(), kTinyRun.end());
  args.insert(args.end(), {"--epochs", "50", "--synthetic-count", "64", "--checkpoint-every", "1", "--out",
                           run.string()});
  const Interrupted r = interrupt_training(args, run, log, SIGINT);
  REQUIRE_MESSAGE(r.started, r.output);
  CHECK_MESSAGE(r.status == 130, r.output);
  CHECK(contains(r.output, "Stopped by SIGINT"));
  CHECK(contains(r.output, "tapegrad train --resume " + run.string()));

  const tg::Model model = tg::load_model(r.last);
  CHECK(model.count_params() > 0);
  CHECK(run_cli({"summary", "--checkpoint", r.last.string()}, tmp.path()).status == 0);

  // The interrupted first epoch completes on resume.
  const Result resumed = run_cli({"train", "--resume", run.string(), "--epochs", "1", "--progress", "none"}, tmp.path());
  CHECK_MESSAGE(resumed.status == 0, resumed.output);
  const auto rows = read_csv(run / "metrics.csv");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("global_step") == "7");  // 51 training samples in batches of 8
}

TEST_CASE("cli: a model too large for memory is refused by its size naming --filters, and summary still prints it") {
  TempDir tmp;
  const Result train = run_cli({"train", "--filters", "4096", "--out", (tmp / "run").string()}, tmp.path());
  CHECK(train.status == 1);
  check_one_error_line(train, "--filters 4096");
  CHECK(contains(train.output, "this machine has"));
  CHECK_FALSE(fs::exists(tmp / "run" / "checkpoints"));

  const Result table = run_cli({"summary", "--filters", "4096"}, tmp.path());
  REQUIRE_MESSAGE(table.status == 0, table.output);
  CHECK(contains(table.output, "Total params: 127,071,117,314"));  // counted by hand in tests/layers/summary_test.cpp
}

TEST_CASE("cli: train --resume takes a new --lr and --clipnorm from the resumed step on, logged and kept in config.json") {
  TempDir tmp;
  const fs::path run = tmp / "run";
  REQUIRE(train_tiny(run, tmp.path(), {"--epochs", "1", "--synthetic-count", "24", "--lr", "0.001"}).status == 0);
  const Result r = run_cli({"train", "--resume", run.string(), "--epochs", "2", "--lr", "0.0005", "--clipnorm", "1",
                            "--progress", "none"},
                           tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const auto rows = read_csv(run / "metrics.csv");
  REQUIRE(rows.size() == 2);
  CHECK(std::stod(rows[0].at("learning_rate")) == doctest::Approx(0.001));
  CHECK(std::stod(rows[1].at("learning_rate")) == doctest::Approx(0.0005));
  const nlohmann::json config = read_json(run / "config.json");
  CHECK(config.at("command").at("lr").get<double>() == 0.0005);
  CHECK(config.at("fit").at("optimizer").at("global_clipnorm").get<double>() == 1.0);
  REQUIRE(config.at("settings_changes").size() == 2);
  CHECK(config.at("settings_changes")[0].at("setting") == "learning_rate");
  CHECK(config.at("settings_changes")[0].at("was").get<double>() == 0.001);
  CHECK(config.at("settings_changes")[1].at("setting") == "global_clipnorm");
  const std::string log = read_text(run / "log.txt");
  CHECK(contains(log, "learning_rate is 0.0005 (was 0.001)"));

  // A third run keeps the history and resumes cleanly at the new settings (no change: nothing added).
  REQUIRE(run_cli({"train", "--resume", run.string(), "--epochs", "3", "--progress", "none"}, tmp.path()).status == 0);
  CHECK(read_json(run / "config.json").at("settings_changes").size() == 2);

  // A cosine schedule fixes every step's rate: refused, nothing trained.
  const fs::path cosine = tmp / "cosine";
  REQUIRE(train_tiny(cosine, tmp.path(), {"--epochs", "1", "--synthetic-count", "24", "--schedule", "cosine"}).status == 0);
  const Result refused = run_cli({"train", "--resume", cosine.string(), "--epochs", "2", "--lr", "0.0001"}, tmp.path());
  CHECK(refused.status == 2);
  CHECK(contains(refused.output, "--schedule cosine"));
  CHECK(read_csv(cosine / "metrics.csv").size() == 1);
}

TEST_CASE("cli: log.txt records the error that ended a run, and a failed checkpoint write leaves no partial file") {
  // A file size limit stands in for a full disk: the child inherits it with SIGXFSZ ignored, so writing the
  // ~90 KB checkpoint fails (EFBIG, as ENOSPC would) while config.json and log.txt still fit.
  TempDir tmp;
  const fs::path run = tmp / "run";
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  const rlimit small{48 * 1024, saved.rlim_max};
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  const Result r = train_tiny(run, tmp.path(), {"--epochs", "1", "--synthetic-count", "24"});
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  CHECK(r.status == 1);
  CHECK(contains(r.output, "tapegrad: error: " + (run / "checkpoints").string()));
  CHECK(contains(r.output, "write failed"));
  const std::string log = read_text(run / "log.txt");
  CHECK(contains(log, "[error] The run ended with an error: "));
  CHECK(contains(log, "write failed"));
  CHECK(fs::is_empty(run / "checkpoints"));  // the atomic write removed its temporary file
}
