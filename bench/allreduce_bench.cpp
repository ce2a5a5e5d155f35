// The gradient sum of data-parallel training on its own: Collective::sum over a float64 buffer of the given number
// of weights (default: the seed U-Net's 31,030,658), as fit runs it after each step, timed after a barrier-like
// small sum so that no process's compute skews it. Run it under MPI:
//   mpirun -np 2 build/bench_allreduce_bench [weights] [rounds]
// It prints the median time, the bytes moved by the algorithm's count (buffer for N = 2, log2(N) x buffer for the
// recursive doubling of larger powers of two, and for other counts ceil(log2(N)) x buffer along the reduction's
// longest path to rank 0 plus buffer for the broadcast) and the rate.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "distributed/mpi_job.h"

int main(int argc, char** argv) {
  const long weights = argc > 1 ? std::atol(argv[1]) : 31030658;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  if (weights < 1 || rounds < 1) {
    std::fprintf(stderr, "usage: allreduce_bench [weights > 0] [rounds > 0]\n");
    return 2;
  }
  const std::shared_ptr<tg::train::Collective> group = tg::distributed::join_job();
  if (!group) {
    std::fprintf(stderr, "run this under mpirun with 2 or more processes (built with MPI: %s)\n",
                 tg::distributed::built_with_mpi() ? "yes" : "no");
    return 2;
  }
  std::vector<double> buffer(static_cast<size_t>(weights), 1.0 + group->rank());
  std::vector<double> seconds;
  for (int r = 0; r < rounds + 1; ++r) {
    std::vector<int64_t> sync(1, 0);
    group->max(sync);  // everyone arrives before the clock starts
    const auto start = std::chrono::steady_clock::now();
    group->sum(buffer);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r > 0) seconds.push_back(s);  // the first round pays for the buffers' first touch
  }
  std::sort(seconds.begin(), seconds.end());
  const int n = group->size();
  const bool doubling = n > 2 && (n & (n - 1)) == 0;
  int log2n = 0;
  while ((1 << log2n) < n) ++log2n;
  const double bytes = 8.0 * static_cast<double>(weights) * (n == 2 ? 1.0 : doubling ? log2n : log2n + 1.0);
  const double median = seconds[seconds.size() / 2];
  if (group->rank() == 0)
    std::printf("%d processes, %ld float64 weights (%.1f MB): median %.3f s over %d rounds; %.1f MB sent per "
                "process, %.2f GB/s (%.1f Gbit/s)\n",
                n, weights, 8e-6 * static_cast<double>(weights), median, rounds, bytes * 1e-6, bytes / median * 1e-9,
                bytes / median * 8e-9);
  return 0;
}
