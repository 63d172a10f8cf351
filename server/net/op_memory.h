// Memory for the operations of a connection's WebSocket reads and writes (issue 12).
//
// Every read and write allocates its operation (Beast's composed operation inside Asio's
// reactor operation). Asio recycles operation memory per thread, but only blocks of at most
// 1,020 bytes (its cache records a size in 4-byte chunks in one byte); a write's operation holds
// a 64-buffer array (about 1,260 bytes), so every frame written took a fresh aligned allocation
// and its free, and crowded Asio's few cache slots. OpAllocator, bound to the completion handlers
// (asio::bind_allocator), sends the operations Asio would recycle to Asio's own recycling
// allocator, as before, and keeps the larger ones, up to kBlockBytes, in a small cache of
// freed blocks per thread (the thread that frees a block keeps it, as Asio's cache does).
// Nothing is kept per connection: an idle connection holds only its pending read's operation.
#pragma once

#include <array>
#include <cstddef>
#include <memory>

#include <boost/asio/recycling_allocator.hpp>

namespace mend::net {

// The blocks one thread keeps for reuse: at most kBlocks of kBlockBytes each.
class OpBlockCache {
 public:
  static constexpr std::size_t kAsioRecycledBytes = 1'020;  // what Asio's own cache recycles
  static constexpr std::size_t kBlockBytes = 2'048;
  static constexpr std::size_t kBlocks = 16;

  OpBlockCache() = default;
  OpBlockCache(const OpBlockCache&) = delete;
  OpBlockCache& operator=(const OpBlockCache&) = delete;
  ~OpBlockCache() {
    while (count_ > 0) std::allocator<std::byte>().deallocate(blocks_[--count_], kBlockBytes);
  }

  // This thread's cache.
  static OpBlockCache& of_this_thread() {
    thread_local OpBlockCache cache;
    return cache;
  }

  // A block of kBlockBytes, aligned as operator new aligns: a kept one when there is one.
  std::byte* take() {
    if (count_ > 0) return blocks_[--count_];
    return std::allocator<std::byte>().allocate(kBlockBytes);
  }
  // Keeps `block` (from take(), on any thread) for reuse, or frees it when kBlocks are kept.
  void give_back(std::byte* block) {
    if (count_ < kBlocks) {
      blocks_[count_++] = block;
      return;
    }
    std::allocator<std::byte>().deallocate(block, kBlockBytes);
  }
  std::size_t kept() const { return count_; }

 private:
  std::array<std::byte*, kBlocks> blocks_{};
  std::size_t count_ = 0;
};

// A stateless allocator for the operations of one connection's reads and writes (see above).
template <typename T>
class OpAllocator {
 public:
  using value_type = T;

  OpAllocator() noexcept = default;
  template <typename U>
  OpAllocator(const OpAllocator<U>& /*other*/) noexcept {}

  T* allocate(std::size_t n) {
    if (cached(n)) return reinterpret_cast<T*>(OpBlockCache::of_this_thread().take());
    return boost::asio::recycling_allocator<T>().allocate(n);
  }

  void deallocate(T* pointer, std::size_t n) {
    if (cached(n)) {
      OpBlockCache::of_this_thread().give_back(reinterpret_cast<std::byte*>(pointer));
      return;
    }
    boost::asio::recycling_allocator<T>().deallocate(pointer, n);
  }

  template <typename U>
  bool operator==(const OpAllocator<U>& /*other*/) const noexcept {
    return true;
  }

  // Whether n objects of T come from the thread's block cache (else from Asio's allocator).
  static constexpr bool cached(std::size_t n) {
    return alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__ &&
           n <= OpBlockCache::kBlockBytes / sizeof(T) &&
           n * sizeof(T) > OpBlockCache::kAsioRecycledBytes;
  }
};

}  // namespace mend::net
