// Where tensor storage comes from: a caching allocator. A training step allocates the same sizes every step
// (activations, their gradients, workspaces), so freed blocks are kept in per-size lists and handed out again
// instead of going back to the system: a steady-state step makes no system allocation and takes no page faults.
// Sizes are rounded to classes of at most 1/8 more than asked (sizes up to 64 bytes round to 64), so a block
// serves every request of its class. Thread-safe (one mutex; a step allocates a few hundred blocks).
// The cache is bounded (set_tensor_cache_limit); a long-lived process that is done with a large model calls
// release_tensor_cache() to give the cached blocks back.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tg {

struct TensorAllocatorStats {
  size_t live_bytes = 0;           // held by tensors now (rounded to the size classes)
  size_t cached_bytes = 0;         // freed, kept for reuse
  size_t peak_bytes = 0;           // highest live + cached since start (or reset_tensor_allocator_peak)
  uint64_t system_allocations = 0; // requests the cache could not serve (misses), since start
  uint64_t cache_hits = 0;         // requests served from the cache, since start
};
TensorAllocatorStats tensor_allocator_stats();
void reset_tensor_allocator_peak();

// Largest number of bytes kept in the cache; a freed block that would exceed it goes back to the system.
// Default: TAPEGRAD_TENSOR_CACHE_MB from the environment, else a quarter of physical memory.
void set_tensor_cache_limit(size_t bytes);
size_t tensor_cache_limit();

// Returns every cached block to the system (live tensors are untouched).
void release_tensor_cache();

// Bytes of tensor storage this thread has asked for, ever (cache hits included): the profiler's per-op count.
uint64_t thread_allocated_bytes();

namespace detail {
// Uninitialised, 64-byte aligned storage of at least `bytes` (never null; throws std::bad_alloc). The block
// must go back through deallocate_tensor_block with the same `bytes`.
std::byte* allocate_tensor_block(size_t bytes);
void deallocate_tensor_block(std::byte* block, size_t bytes) noexcept;
}  // namespace detail

}  // namespace tg
