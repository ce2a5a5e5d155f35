// A run folder's config.json, which anyone may edit before `train --resume`: read_run_config (the JSON), then the
// saved settings as the command line checks them (check_saved_train_settings) and the library's FitOptions.
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "fuzz/fuzz_support.h"
#include "train/fit_options.h"
#include "train/run_config.h"

using namespace tg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::Scratch scratch;
  const std::filesystem::path path = scratch.write("config.json", data, size);
  nlohmann::json saved;
  if (!fuzz::accepts(path.string(), [&] { saved = train::read_run_config(scratch.dir()); })) return 0;
  fuzz::accepts(path.string(), [&] { app::check_saved_train_settings(saved, path.string()); });
  if (saved.is_object() && saved.contains("fit"))
    fuzz::accepts("", [&] { train::FitOptions::from_json(saved["fit"]); });
  return 0;
}
