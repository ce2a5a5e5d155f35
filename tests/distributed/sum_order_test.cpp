// Collective::sum over MPI adds the processes' values in the order one process's tree adds as many subtrees, for
// process counts that are powers of two and others (programs/sum_order.cpp checks every element bit for bit).
// Skipped, saying so, when the build has no MPI or mpirun is absent.
#include <doctest/doctest.h>

#include "tests/distributed/mpi_launch.h"
#include "tests/skip.h"

namespace tg::mpi_test {
namespace {

using testing::TempDir;

TEST_CASE("Collective::sum adds in the one-process tree's order for 3 to 7 processes" * doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  TempDir dir;
  for (int processes = 3; processes <= 7; ++processes) {
    INFO(processes << " processes");
    const fs::path log = dir / ("np" + std::to_string(processes) + ".log");
    const int status =
        wait_exit(cli_test::spawn_program({TAPEGRAD_MPIEXEC, "--allow-run-as-root", "--oversubscribe", "--mca", "btl",
                                           "self,vader", "-np", std::to_string(processes), TAPEGRAD_SUM_ORDER},
                                          log, 1));
    const std::string output = read_text(log);
    INFO(output);
    CHECK(status == 0);
    CHECK(output.find("same bits: 4096 of 4096 elements") != std::string::npos);
    // The data tells the shapes apart: halving the ranks gives other bits (it is the tree for 4 processes).
    if (processes != 4) CHECK(output.find("halving differs in 0\n") == std::string::npos);
  }
}

}  // namespace
}  // namespace tg::mpi_test
