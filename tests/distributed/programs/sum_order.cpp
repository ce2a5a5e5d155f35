// Run under `mpirun -np N` by tests/distributed/sum_order_test.cpp: checks that Collective::sum (distributed/) adds
// the processes' float64 values in the order ShardedStep's tree (train/sharded_step.h) adds N equal subtrees, bit
// for bit. Training runs cannot show it: their sums of a few float32 gradients are mostly exact in float64 in any
// order. Here every element mixes magnitudes from 2^-60 to 2^60, so that nearly every order gives other bits; the
// program also counts the elements where halving the ranks (the wrong shape for N not a power of two) would differ,
// to show that the data tells the shapes apart. Prints "same bits: K of M elements; halving differs in H" on rank 0;
// exits 1 when any element differs.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "distributed/mpi_job.h"

namespace {

// Rank r's value of element j: the same on every rank, so each can compute the reference.
double value(int rank, int64_t j) {
  uint64_t h = static_cast<uint64_t>(rank) * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(j) * 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 31;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 29;
  const double mantissa = 1.0 + static_cast<double>(h & 0xfffffffffffffULL) / 4503599627370496.0;
  const int exponent = static_cast<int>((h >> 52) % 121) - 60;
  return (h >> 63 ? -1.0 : 1.0) * std::ldexp(mantissa, exponent);
}

// ShardedStep's tree over n leaves in order: pairs merged left + right as soon as two of one level are complete,
// what remains merged from the right (push_leaf, finish_tree).
double tree_of(const std::vector<double>& leaves) {
  std::vector<std::pair<int, double>> stack;  // level, sum
  for (double leaf : leaves) {
    stack.emplace_back(0, leaf);
    while (stack.size() >= 2 && stack[stack.size() - 2].first == stack.back().first) {
      stack[stack.size() - 2].second = stack[stack.size() - 2].second + stack.back().second;
      ++stack[stack.size() - 2].first;
      stack.pop_back();
    }
  }
  while (stack.size() >= 2) {
    stack[stack.size() - 2].second = stack[stack.size() - 2].second + stack.back().second;
    stack.pop_back();
  }
  return stack.front().second;
}

// Halves [lo, hi) at its middle: the shape recursive doubling gives a power of two, wrong for other counts.
double halving(const std::vector<double>& leaves, size_t lo, size_t hi) {
  if (hi - lo == 1) return leaves[lo];
  const size_t mid = lo + (hi - lo) / 2;
  return halving(leaves, lo, mid) + halving(leaves, mid, hi);
}

}  // namespace

int main() {
  const std::shared_ptr<tg::train::Collective> group = tg::distributed::join_job();
  if (!group) {
    std::fprintf(stderr, "run this under mpirun with 2 or more processes\n");
    return 2;
  }
  constexpr int64_t kElements = 4096;
  std::vector<double> mine(kElements);
  for (int64_t j = 0; j < kElements; ++j) mine[static_cast<size_t>(j)] = value(group->rank(), j);
  group->sum(mine);
  int64_t same = 0, halving_differs = 0;
  std::vector<double> leaves(static_cast<size_t>(group->size()));
  for (int64_t j = 0; j < kElements; ++j) {
    for (int r = 0; r < group->size(); ++r) leaves[static_cast<size_t>(r)] = value(r, j);
    const double want = tree_of(leaves), got = mine[static_cast<size_t>(j)];
    const double other = halving(leaves, 0, leaves.size());
    same += std::memcmp(&want, &got, sizeof want) == 0;
    halving_differs += std::memcmp(&want, &other, sizeof want) != 0;
  }
  if (group->rank() == 0)
    std::printf("same bits: %lld of %lld elements; halving differs in %lld\n", static_cast<long long>(same),
                static_cast<long long>(kElements), static_cast<long long>(halving_differs));
  return same == kElements ? 0 : 1;
}
