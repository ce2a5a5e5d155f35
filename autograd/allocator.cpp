#include "autograd/allocator.h"
#include "autograd/tensor.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace tg {

namespace {
constexpr size_t kAlign = 64;
thread_local uint64_t t_allocated_bytes = 0;

// The class of a request: rounded up to a granule of 1/8 of its power of two (64 bytes at least), so a block
// is never more than 1/8 larger than asked and there are 8 classes per doubling.
size_t size_class(size_t bytes) {
  if (bytes <= kAlign) return kAlign;
  const size_t granule = std::max(kAlign, std::bit_floor(bytes) / 8);
  return (bytes + granule - 1) / granule * granule;
}

size_t default_limit() {
  if (const char* mb = std::getenv("TAPEGRAD_TENSOR_CACHE_MB")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(mb, &end, 10);
    if (end != mb && *end == '\0') return static_cast<size_t>(v) << 20;
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return size_t{1} << 30;
  return static_cast<size_t>(pages) * static_cast<size_t>(page) / 4;
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<std::byte*>> free_blocks;  // by size class
  size_t live = 0, cached = 0, peak = 0, limit = default_limit();
  uint64_t misses = 0, hits = 0;

  void note_peak() { peak = std::max(peak, live + cached); }

  // Gives cached blocks back to the system until at most `keep` bytes stay cached. Caller holds the mutex.
  void trim_to(size_t keep) {
    for (auto it = free_blocks.begin(); it != free_blocks.end() && cached > keep; ++it) {
      std::vector<std::byte*>& blocks = it->second;
      while (!blocks.empty() && cached > keep) {
        std::free(blocks.back());
        blocks.pop_back();
        cached -= it->first;
      }
    }
  }
};

// Never destroyed: tensors held by other static objects may be freed after this file's statics would be.
Cache& cache() {
  static Cache* const instance = new Cache;
  return *instance;
}
}  // namespace

namespace detail {

std::byte* allocate_tensor_block(size_t bytes) {
  const size_t size = size_class(bytes);
  t_allocated_bytes += size;
  Cache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      std::byte* block = it->second.back();
      it->second.pop_back();
      c.cached -= size;
      c.live += size;
      ++c.hits;
      return block;
    }
    ++c.misses;
  }
  void* p = std::aligned_alloc(kAlign, size);
  if (!p) {
    // The system is short of memory: give the cache back and try once more before failing.
    release_tensor_cache();
    p = std::aligned_alloc(kAlign, size);
    if (!p) throw std::bad_alloc();
  }
  std::lock_guard lock(c.mutex);
  c.live += size;
  c.note_peak();
  return static_cast<std::byte*>(p);
}

void deallocate_tensor_block(std::byte* block, size_t bytes) noexcept {
  const size_t size = size_class(bytes);
  Cache& c = cache();
  std::unique_lock lock(c.mutex);
  c.live -= size;
  if (c.cached + size > c.limit) {
    lock.unlock();
    std::free(block);
    return;
  }
  try {
    c.free_blocks[size].push_back(block);
  } catch (...) {  // no memory for the list entry: the block goes back to the system instead
    lock.unlock();
    std::free(block);
    return;
  }
  c.cached += size;
}

}  // namespace detail

TensorAllocatorStats tensor_allocator_stats() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return {c.live, c.cached, c.peak, c.misses, c.hits};
}

void reset_tensor_allocator_peak() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.peak = c.live + c.cached;
}

void set_tensor_cache_limit(size_t bytes) {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.limit = bytes;
  c.trim_to(bytes);
}

size_t tensor_cache_limit() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.limit;
}

void release_tensor_cache() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.trim_to(0);
}

uint64_t thread_allocated_bytes() { return t_allocated_bytes; }

size_t live_tensor_bytes() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.live;
}

}  // namespace tg
