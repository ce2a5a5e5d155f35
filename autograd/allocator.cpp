#include "autograd/allocator.h"
#include "autograd/tensor.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace tg {

namespace {
constexpr size_t kAlign = 64;
thread_local uint64_t t_allocated_bytes = 0;

size_t block_size(size_t bytes) { return std::max(kAlign, (bytes + kAlign - 1) / kAlign * kAlign); }

// Large segments are mapped from the system directly and unmapped when given back, so that their memory leaves
// the process at once: glibc would keep freed blocks under its (adaptive, up to 32 MB) mmap threshold in its heap.
constexpr size_t kMapFrom = size_t{256} << 10;

size_t system_size(size_t size) {
  if (size < kMapFrom) return size;
  const auto page = static_cast<size_t>(sysconf(_SC_PAGE_SIZE));
  return (size + page - 1) / page * page;
}

std::byte* system_allocate(size_t size) {
  if (size < kMapFrom) return static_cast<std::byte*>(std::aligned_alloc(kAlign, size));
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
}

void system_free(std::byte* p, size_t size) noexcept {
  if (size < kMapFrom) std::free(p);
  else munmap(p, size);
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

// Free blocks ordered by size, then the most recently freed first (its memory is the likeliest still in cache),
// then address. The set's node handles move between the set and their block, so freeing a block allocates
// nothing (deallocate is noexcept).
using FreeKey = std::tuple<size_t, uint64_t, std::byte*>;
using FreeSet = std::set<FreeKey>;

struct Block {
  Block(size_t size_, std::byte* segment_) : size(size_), segment(segment_) {}
  size_t size;
  std::byte* segment;            // the system allocation it is part of
  bool free = false;
  FreeKey key{};                 // its entry in the free set, while free
  FreeSet::node_type node;       // that entry's node, kept here while the block is in use
};

class Pool {
 public:
  std::byte* allocate(size_t bytes) {
    const size_t size = block_size(bytes);
    t_allocated_bytes += size;
    {
      std::lock_guard lock(mutex_);
      auto it = free_.lower_bound(FreeKey{size, 0, nullptr});
      if (it != free_.end()) {
        ++hits_;
        return take(it, size);
      }
      ++misses_;
      // Stay within the high-water mark: what is freed here and asked for again below costs nothing more.
      give_back_while([&] { return reserved_ + size > std::max(peak_live_, live_ + size); });
    }
    const size_t segment_size = system_size(size);
    std::byte* segment = system_allocate(segment_size);
    if (!segment) {
      // The system is short of memory: give the cache back and try once more before failing.
      release();
      segment = system_allocate(segment_size);
      if (!segment) throw std::bad_alloc();
    }
    std::lock_guard lock(mutex_);
    try {
      segments_.emplace(segment, segment_size);
      mark_free(segment, blocks_.emplace(segment, Block{segment_size, segment}).first->second);
    } catch (...) {
      segments_.erase(segment);
      blocks_.erase(segment);
      system_free(segment, segment_size);
      throw;
    }
    reserved_ += segment_size;
    peak_reserved_ = std::max(peak_reserved_, reserved_);
    return take(free_.find(blocks_.at(segment).key), size);
  }

  void deallocate(std::byte* p, size_t bytes) noexcept {
    std::lock_guard lock(mutex_);
    auto it = blocks_.find(p);
    // Not a block of ours, freed twice or with another size: memory is already corrupt.
    if (it == blocks_.end() || it->second.free || it->second.size < bytes) std::abort();
    live_ -= it->second.size;
    auto next = std::next(it);
    if (next != blocks_.end() && next->second.free && next->second.segment == it->second.segment) {
      free_.erase(next->second.key);
      it->second.size += next->second.size;
      blocks_.erase(next);
    }
    if (it != blocks_.begin()) {
      auto prev = std::prev(it);
      if (prev->second.free && prev->second.segment == it->second.segment) {
        prev->second.node = free_.extract(prev->second.key);
        prev->second.free = false;
        prev->second.size += it->second.size;
        blocks_.erase(it);
        it = prev;
      }
    }
    mark_free(it->first, it->second);
    give_back_while([&] { return reserved_ - live_ > limit_; });
  }

  TensorAllocatorStats stats() {
    std::lock_guard lock(mutex_);
    return {live_, reserved_ - live_, peak_reserved_, peak_live_, misses_, hits_};
  }
  size_t live() {
    std::lock_guard lock(mutex_);
    return live_;
  }
  void reset_peak() {
    std::lock_guard lock(mutex_);
    peak_reserved_ = reserved_;
  }
  void set_limit(size_t bytes) {
    std::lock_guard lock(mutex_);
    limit_ = bytes;
    give_back_while([&] { return reserved_ - live_ > limit_; });
  }
  size_t limit() {
    std::lock_guard lock(mutex_);
    return limit_;
  }
  void release() {
    std::lock_guard lock(mutex_);
    give_back_while([] { return true; });
    peak_live_ = live_;
  }

 private:
  void add_live(size_t size) {
    live_ += size;
    peak_live_ = std::max(peak_live_, live_);
  }

  // Hands out the free block at `it`, split when it is larger than `size`. Caller holds the mutex.
  std::byte* take(FreeSet::iterator it, size_t size) {
    std::byte* p = std::get<2>(*it);
    Block& b = blocks_.at(p);
    if (b.size - size >= kAlign) {
      // The rest becomes a free block of its own (the only place a new free-set node is allocated).
      std::byte* rest = p + size;
      auto [r, added] = blocks_.emplace(rest, Block{b.size - size, b.segment});
      try {
        mark_free(rest, r->second);
      } catch (...) {
        blocks_.erase(r);
        throw;
      }
      b.node = free_.extract(it);
      b.size = size;
    } else {
      b.node = free_.extract(it);
    }
    b.free = false;
    add_live(b.size);
    return p;
  }

  // A free-set node for a new block, so that freeing the block later needs no allocation.
  FreeSet::node_type new_node() { return free_.extract(free_.insert(FreeKey{0, ~stamp_++, nullptr}).first); }

  void mark_free(std::byte* p, Block& b) {
    if (b.node.empty()) b.node = new_node();
    b.free = true;
    b.key = FreeKey{b.size, ~stamp_++, p};
    b.node.value() = b.key;
    free_.insert(std::move(b.node));
  }

  // Returns wholly free segments to the system, largest first, while `more()` says so. Caller holds the mutex.
  template <class F>
  void give_back_while(F&& more) {
    for (auto it = free_.rbegin(); it != free_.rend() && more();) {
      std::byte* p = std::get<2>(*it);
      const Block& b = blocks_.at(p);
      if (b.segment != p || segments_.at(p) != b.size) {
        ++it;
        continue;
      }
      const size_t size = b.size;
      it = FreeSet::reverse_iterator(free_.erase(std::next(it).base()));
      blocks_.erase(p);
      segments_.erase(p);
      reserved_ -= size;
      system_free(p, size);
    }
  }

  std::mutex mutex_;
  std::map<std::byte*, Block> blocks_;               // every block, in address order (neighbours for merging)
  std::unordered_map<std::byte*, size_t> segments_;  // system allocations: start -> size
  FreeSet free_;
  size_t live_ = 0, reserved_ = 0, peak_reserved_ = 0, peak_live_ = 0, limit_ = default_limit();
  uint64_t misses_ = 0, hits_ = 0, stamp_ = 0;
};

// Never destroyed: tensors held by other static objects may be freed after this file's statics would be.
Pool& pool() {
  static Pool* const instance = new Pool;
  return *instance;
}
}  // namespace

namespace detail {
std::byte* allocate_tensor_block(size_t bytes) { return pool().allocate(bytes); }
void deallocate_tensor_block(std::byte* block, size_t bytes) noexcept { pool().deallocate(block, bytes); }
}  // namespace detail

std::shared_ptr<std::byte[]> cached_storage(size_t bytes) {
  return {pool().allocate(bytes), [bytes](std::byte* p) { pool().deallocate(p, bytes); }};
}

TensorAllocatorStats tensor_allocator_stats() { return pool().stats(); }
void reset_tensor_allocator_peak() { pool().reset_peak(); }
void set_tensor_cache_limit(size_t bytes) { pool().set_limit(bytes); }
size_t tensor_cache_limit() { return pool().limit(); }
void release_tensor_cache() { pool().release(); }
uint64_t thread_allocated_bytes() { return t_allocated_bytes; }
size_t live_tensor_bytes() { return pool().live(); }

}  // namespace tg
