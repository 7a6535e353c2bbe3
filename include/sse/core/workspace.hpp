#pragma once

/// \file
/// Scratch memory. Kernels never allocate: each public entry point sizes its scratch up front
/// (`*_workspace_size(...)`), takes a caller-supplied `Workspace` of at least that many bytes,
/// or allocates one buffer once per call when none is given. Inside, a `ScratchArena` carves
/// aligned arrays out of a worker's slice. The same carving code runs in *measure* mode (no
/// base pointer) to compute the size, so the size and the layout cannot disagree.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace sse {

/// Alignment of every scratch array: one cache line, also enough for any SIMD register.
inline constexpr std::size_t kScratchAlignment = 64;

/// Caller-owned scratch memory (non-owning). Any alignment is accepted.
class Workspace {
 public:
  constexpr Workspace() noexcept = default;
  constexpr Workspace(void* data, std::size_t bytes) noexcept
      : data_(static_cast<std::byte*>(data)), bytes_(bytes) {}

  constexpr std::byte* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return bytes_; }

 private:
  std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
};

/// Carves aligned arrays, in order, from a byte region; with a null base it only measures.
class ScratchArena {
 public:
  /// A measuring arena: `take` returns nullptr and `used()` accumulates the bytes needed.
  constexpr ScratchArena() noexcept = default;
  /// An arena over [base, base + bytes); `base` must be kScratchAlignment-aligned.
  ScratchArena(std::byte* base, std::size_t bytes) noexcept : base_(base), capacity_(bytes) {}

  /// `count` elements of T, kScratchAlignment-aligned, uninitialized.
  template <class T>
  T* take(std::size_t count) noexcept {
    const std::size_t offset = used_;
    used_ += round_up(count * sizeof(T));
    if (base_ == nullptr) return nullptr;
    return reinterpret_cast<T*>(base_ + offset);
  }

  std::size_t used() const noexcept { return used_; }
  bool measuring() const noexcept { return base_ == nullptr; }
  std::size_t capacity() const noexcept { return capacity_; }

  static constexpr std::size_t round_up(std::size_t bytes) noexcept {
    return (bytes + kScratchAlignment - 1) / kScratchAlignment * kScratchAlignment;
  }

 private:
  std::byte* base_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t used_ = 0;
};

/// Bytes a scratch layout needs: constructs `Layout(arena, args...)` on a measuring arena.
template <class Layout, class... Args>
std::size_t measure_scratch(const Args&... args) noexcept {
  ScratchArena measure;
  const Layout layout(measure, args...);
  static_cast<void>(layout);
  return measure.used();
}

namespace detail {

/// The scratch of one call: a region shared by all tasks (`shared_bytes`, may be 0) followed by
/// `workers` slices of `slice_bytes` each, aligned, inside either the caller's workspace or one
/// buffer allocated here (once per call, never in a hot loop).
class WorkerScratch {
 public:
  WorkerScratch(const Workspace& workspace, std::size_t workers, std::size_t slice_bytes,
                std::size_t shared_bytes = 0)
      : slice_bytes_(ScratchArena::round_up(slice_bytes)),
        shared_bytes_(ScratchArena::round_up(shared_bytes)) {
    const std::size_t needed = required_bytes(workers, slice_bytes, shared_bytes);
    if (workspace.data() != nullptr && workspace.size() >= needed) {
      base_ = align(workspace.data());
    } else {
      owned_.reset(new std::byte[needed]);
      base_ = align(owned_.get());
    }
  }
  /// Bytes a caller-supplied workspace needs (alignment slack included).
  static constexpr std::size_t required_bytes(std::size_t workers, std::size_t slice_bytes,
                                              std::size_t shared_bytes = 0) {
    return ScratchArena::round_up(shared_bytes) + workers * ScratchArena::round_up(slice_bytes) +
           kScratchAlignment;
  }
  /// The shared region, carved by the caller before tasks start.
  ScratchArena shared() const noexcept { return ScratchArena(base_, shared_bytes_); }
  ScratchArena arena(std::size_t worker) const noexcept {
    return ScratchArena(base_ + shared_bytes_ + worker * slice_bytes_, slice_bytes_);
  }

 private:
  static std::byte* align(std::byte* p) noexcept {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t aligned = (address + kScratchAlignment - 1) & ~(kScratchAlignment - 1);
    return p + (aligned - address);
  }

  std::size_t slice_bytes_;
  std::size_t shared_bytes_;
  std::unique_ptr<std::byte[]> owned_;
  std::byte* base_ = nullptr;
};

}  // namespace detail
}  // namespace sse
