#include <doctest/doctest.h>

#include <cstring>

#include "autograd/allocator.h"
#include "autograd/autograd.h"

using namespace tg;

namespace {
// Restores the cache limit a test changed, so the other tests in the process see the default.
struct LimitGuard {
  size_t saved = tensor_cache_limit();
  ~LimitGuard() { set_tensor_cache_limit(saved); }
};
}  // namespace

TEST_CASE("allocator: a freed block is handed out again for the next tensor of its size") {
  release_tensor_cache();
  const TensorAllocatorStats before = tensor_allocator_stats();
  { Tensor a({1000, 3}); }
  const TensorAllocatorStats freed = tensor_allocator_stats();
  CHECK(freed.system_allocations == before.system_allocations + 1);
  CHECK(freed.cached_bytes >= 12000);
  { Tensor b({3, 1000}); }  // same bytes, another shape
  const TensorAllocatorStats reused = tensor_allocator_stats();
  CHECK(reused.system_allocations == freed.system_allocations);
  CHECK(reused.cache_hits == freed.cache_hits + 1);
}

TEST_CASE("allocator: zero-filled construction zeroes a reused block, empty() leaves it as it was") {
  release_tensor_cache();
  { Tensor::full({64}, 7.0); }
  Tensor z({64});
  for (double v : z.to_vector()) CHECK(v == 0.0);
  z.fill(5.0);
  z = Tensor();
  Tensor e = Tensor::empty({64});  // the block z held: empty() costs no pass over memory
  CHECK(e.flat(0) == 5.0);
}

TEST_CASE("allocator: live bytes count tensors, not the cache, and release gives the cache back") {
  release_tensor_cache();
  const size_t live = live_tensor_bytes();
  {
    Tensor a({256, 256});
    CHECK(live_tensor_bytes() >= live + 256 * 256 * 4);
  }
  CHECK(live_tensor_bytes() == live);
  CHECK(tensor_allocator_stats().cached_bytes >= 256 * 256 * 4);
  release_tensor_cache();
  CHECK(tensor_allocator_stats().cached_bytes == 0);
}

TEST_CASE("allocator: blocks beyond the cache limit go back to the system") {
  LimitGuard guard;
  release_tensor_cache();
  set_tensor_cache_limit(100000);
  { Tensor small({1000}), large({100000}); }  // 4 KB stays, 400 KB would pass the limit
  const TensorAllocatorStats s = tensor_allocator_stats();
  CHECK(s.cached_bytes >= 4000);
  CHECK(s.cached_bytes <= 100000);
  set_tensor_cache_limit(0);
  CHECK(tensor_allocator_stats().cached_bytes == 0);
}

TEST_CASE("allocator: a freed block serves smaller requests too, and its parts merge again when freed") {
  release_tensor_cache();
  { Tensor a({4096}); }  // 16 KB, one segment from the system
  const uint64_t misses = tensor_allocator_stats().system_allocations;
  {
    Tensor b({1024});  // carved out of a's block
    Tensor c({3072});  // the rest of it
    CHECK(tensor_allocator_stats().system_allocations == misses);
    CHECK(c.bytes() == b.bytes() + 4096);
  }
  { Tensor d({4096}); }  // b's and c's parts merged back into one block of a's size
  CHECK(tensor_allocator_stats().system_allocations == misses);
  { Tensor e({8192}); }  // larger than anything free: a system allocation
  CHECK(tensor_allocator_stats().system_allocations == misses + 1);
}

TEST_CASE("allocator: on a miss, free segments go back first, so the cache stays within the live high-water mark") {
  release_tensor_cache();
  const size_t fragments = tensor_allocator_stats().cached_bytes;  // free parts of segments still in use
  { Tensor a({1 << 18}); }                                         // 1 MB, kept free in the cache
  CHECK(tensor_allocator_stats().cached_bytes >= fragments + (size_t{1} << 20));
  { Tensor b({1 << 19}); }  // 2 MB: the free 1 MB cannot hold it, and keeping both would pass the high-water mark
  const TensorAllocatorStats s = tensor_allocator_stats();
  CHECK(s.cached_bytes >= fragments + (size_t{2} << 20));
  CHECK(s.cached_bytes <= fragments + (size_t{2} << 20) + 4096);  // a's segment went back (4096: page rounding)
  CHECK(s.live_bytes + s.cached_bytes <= s.peak_live_bytes + fragments + 4096);
}

TEST_CASE("allocator: a steady-state forward and backward pass allocates nothing from the system") {
  Rng rng(3);
  Tensor kernel({3, 3, 4, 8}), images({2, 16, 16, 4});
  rng.fill_uniform(kernel, -0.5, 0.5);
  rng.fill_uniform(images, -1.0, 1.0);
  Variable w(kernel, true), b(Tensor::zeros({8}), true), x(images);
  const auto step = [&] {
    ConvOptions o;
    o.padding = Padding::Same;
    Variable h = relu(conv2d(x, w, b, o));
    Variable p = max_pool2d(h, {});
    Variable u = upsample2d(p, {2, 2}, Interpolation::Nearest);
    Variable loss = mean(concat({h, u}, 3) * 0.5);
    loss.backward();
    w.zero_grad();
    b.zero_grad();
  };
  step();
  step();
  const uint64_t misses = tensor_allocator_stats().system_allocations;
  for (int i = 0; i < 5; ++i) step();
  CHECK(tensor_allocator_stats().system_allocations == misses);
}
