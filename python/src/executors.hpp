#pragma once

// The thread pools of the Python module: one per thread count, made on first use and kept, so
// that a call (a decode step in a Python loop) does not start threads. A pool runs one call at
// a time; a call from another Python thread that finds it busy gets a pool of its own for that
// call. threads=None means every core.

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "arrays.hpp"
#include <sse/core/parallel.hpp>

namespace sse_python {

class PoolLease {
 public:
  explicit PoolLease(const std::optional<long>& threads) {
    const long count = threads.value_or(0);
    if (count < 0 || count > 4096) {
      raise_value("threads: expected None or 1 to 4096, got " + std::to_string(count));
    }
    if (threads && count == 0) raise_value("threads: expected None or 1 to 4096, got 0");
    Slot& slot = slot_for(static_cast<std::size_t>(count));
    lock_ = std::unique_lock<std::mutex>(slot.busy, std::try_to_lock);
    if (lock_.owns_lock()) {
      pool_ = slot.pool.get();
    } else {
      own_ = std::make_unique<sse::ThreadPool>(static_cast<std::size_t>(count));
      pool_ = own_.get();
    }
  }
  sse::ThreadPool& pool() noexcept { return *pool_; }

 private:
  struct Slot {
    std::mutex busy;
    std::unique_ptr<sse::ThreadPool> pool;
  };
  static Slot& slot_for(std::size_t count) {
    static std::mutex registry_mutex;
    static auto* registry = new std::map<std::size_t, Slot>();  // lives past interpreter exit
    const std::lock_guard<std::mutex> lock(registry_mutex);
    Slot& slot = (*registry)[count];
    if (!slot.pool) slot.pool = std::make_unique<sse::ThreadPool>(count);
    return slot;
  }

  std::unique_lock<std::mutex> lock_;
  std::unique_ptr<sse::ThreadPool> own_;
  sse::ThreadPool* pool_ = nullptr;
};

/// A grow-only scratch buffer per Python thread: a call's workspace without an allocation once
/// it has been as large.
inline sse::Workspace thread_workspace(std::size_t bytes) {
  thread_local std::vector<std::byte> buffer;
  if (buffer.size() < bytes) buffer.resize(bytes);
  return sse::Workspace(buffer.data(), bytes);
}

}  // namespace sse_python
