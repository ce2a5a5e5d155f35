// Where tensor storage comes from: a caching allocator. A training step allocates the same sizes every step
// (activations, their gradients, workspaces), so freed storage is kept and handed out again instead of going
// back to the system: a steady-state step makes no system allocation and takes no page faults.
//
// Storage comes from the system in segments (one per cache miss, of the size asked). A request takes the
// smallest free block that holds it, splitting off the rest as a free block of its own; a freed block merges
// with free neighbours of its segment. So a freed block serves any request that fits, not only those of its
// own size, and the memory a step strands in blocks nobody asks for is small.
// The cache never makes the process hold more than the most tensor storage ever live at once (a training step's
// high-water mark): on a miss, wholly free segments go back to the system (largest first) before a new one is
// asked for. Within a step the pattern of requests repeats, so after a few steps every request is served from
// the cache. Thread-safe (one mutex; a step allocates a few hundred blocks).
// The free storage is also capped (set_tensor_cache_limit); a long-lived process that is done with a large
// model calls release_tensor_cache() to give it back.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace tg {

struct TensorAllocatorStats {
  size_t live_bytes = 0;           // held by tensors now (each rounded up to 64 bytes)
  size_t cached_bytes = 0;         // free storage kept for reuse (in segments of the system's)
  size_t peak_bytes = 0;           // highest live + cached since start (or reset_tensor_allocator_peak)
  size_t peak_live_bytes = 0;      // highest live since start (or release_tensor_cache): what the cache may hold
  uint64_t system_allocations = 0; // requests the cache could not serve (misses), since start
  uint64_t cache_hits = 0;         // requests served from the cache, since start
};
TensorAllocatorStats tensor_allocator_stats();
void reset_tensor_allocator_peak();

// Largest number of free bytes kept; wholly free segments beyond it go back to the system.
// Default: TAPEGRAD_TENSOR_CACHE_MB from the environment, else a quarter of physical memory.
void set_tensor_cache_limit(size_t bytes);
size_t tensor_cache_limit();

// Returns every wholly free segment to the system (live tensors are untouched) and restarts the high-water mark
// that bounds the cache from the bytes live now.
void release_tensor_cache();

// Uninitialised, 64-byte aligned storage of at least `bytes` from the cache, given back when the last owner drops
// it: a Tensor's storage, and an op's own buffers that are not tensors (a max-pool's window positions).
std::shared_ptr<std::byte[]> cached_storage(size_t bytes);

// Bytes of tensor storage this thread has asked for, ever (cache hits included): the profiler's per-op count.
uint64_t thread_allocated_bytes();

namespace detail {
// Uninitialised, 64-byte aligned storage of at least `bytes` (never null; throws std::bad_alloc). The block
// must go back through deallocate_tensor_block with the same `bytes` (the cache knows the size; it is checked).
std::byte* allocate_tensor_block(size_t bytes);
void deallocate_tensor_block(std::byte* block, size_t bytes) noexcept;
}  // namespace detail

}  // namespace tg
