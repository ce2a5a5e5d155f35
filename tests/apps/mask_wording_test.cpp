// The command line words library errors with its own flags: index masks read as binary are reported with
// `--mask index --classes N`, not with the library's FolderOptions names.
#include "tests/apps/cli_util.h"

using namespace tg::cli_test;

TEST_CASE("cli: index masks read as binary stop training with an error naming --mask index and --classes N") {
  TempDir tmp;
  const fs::path data = tmp / "set";
  REQUIRE(run_cli({"synth", "--out", data.string(), "--count", "4", "--size", "16", "--classes", "3", "--seed", "2"},
                  tmp.path()).status == 0);
  const Result r = run_cli({"train", "--data", data.string(), "--size", "16", "--filters", "2", "--depth", "1",
                            "--epochs", "1", "--out", (tmp / "run").string()},
                           tmp.path());
  CHECK(r.status == 1);
  CHECK_MESSAGE(r.output.find("reads every pixel of the 4 mask(s) scanned as class 0") != std::string::npos, r.output);
  CHECK_MESSAGE(r.output.find("--mask index with --classes ") != std::string::npos, r.output);
  CHECK_MESSAGE(r.output.find("FolderOptions") == std::string::npos, r.output);
}
