// With a caller-supplied workspace, sse::scan and sse::sse_attention allocate nothing: no scratch
// of its own, no std::function, no strings on the success path. Counted by replacing the global
// allocation functions of this test executable; only allocations made while counting is on are
// counted.

#include <vector>

#include <gtest/gtest.h>

#include "sse/attention/sse_attention.hpp"
#include "sse/kernels/scan.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/allocation_counter.hpp"
#include "support/scan_case.hpp"
#include "support/sse_case.hpp"

namespace sse::test {
namespace {

template <class Rule>
long allocations_during_scan(index_t K, index_t V, Mode mode, Executor& executor,
                             bool with_workspace = true) {
  ScanCase<Rule, float> c(ScanShape{1, 150, 2, K, V, {}}, 5, GateRange{-0.1, 0.0});
  ScanOptions options;
  options.mode = mode;
  std::vector<std::byte> memory(scan_workspace_size<Rule>(c.inputs(), c.outputs(), executor));
  const auto in = c.inputs();
  const auto out = c.outputs();
  const CountAllocations counter;
  scan<Rule>(in, out, options, executor,
             with_workspace ? Workspace(memory.data(), memory.size()) : Workspace{});
  return counter.count();
}

// Eigen's products keep their packing buffers on the stack up to 128 KiB, which covers heads
// up to K = V = 128; this is the size range the claim covers.
TEST(ScanAllocation, NoneWithACallerWorkspace) {
  SerialExecutor serial;
  ThreadPool pool(2);
  for (Executor* executor : {static_cast<Executor*>(&serial), static_cast<Executor*>(&pool)}) {
    for (index_t d : {index_t(7), index_t(64), index_t(128)}) {
      for (Mode mode : {Mode::kChunk, Mode::kRecurrent}) {
        EXPECT_EQ(allocations_during_scan<GlaRule>(d, d, mode, *executor), 0)
            << "GLA K=V=" << d << " mode " << int(mode);
        EXPECT_EQ(allocations_during_scan<GdnRule>(d, d, mode, *executor), 0)
            << "GDN K=V=" << d << " mode " << int(mode);
      }
    }
  }
}

// The counter sees allocations: without a workspace the scan allocates its scratch, once.
TEST(ScanAllocation, OneBufferWithoutAWorkspace) {
  SerialExecutor serial;
  EXPECT_EQ(allocations_during_scan<GlaRule>(64, 64, Mode::kChunk, serial, false), 1);
}

template <class Rule>
long allocations_during_sse(index_t T, index_t K, Path path, Mode mode, Executor& executor) {
  SseCase<Rule, float> c(SseShape{2, T, 2, K, K, 4, {}}, 9, 2, 2, GateRange{-0.1, 0.0});
  AttentionOptions options = c.options();
  options.path = path;
  options.mode = mode;
  auto in = c.inputs();
  auto out = c.outputs(/*with_routing=*/T > 1);
  // Decode addresses a state pool: sequences 0 and 1 in slots 2 and 0 of 3, updated in place.
  const std::vector<std::int64_t> slots = {2, 0};
  std::vector<float> pool(c.h0.size() / 2 * 3, 0.5f);
  if (T == 1) {
    in.state_slots = {slots.data(), {2}};
    in.h0 = {pool.data(), {3, 5, 2, K, K}};
    out.ht = {pool.data(), {3, 5, 2, K, K}};
  }
  std::vector<std::byte> memory(sse_attention_workspace_size<Rule>(in, out, options, executor));
  const CountAllocations counter;
  sse_attention<Rule>(in, out, options, executor, Workspace(memory.data(), memory.size()));
  return counter.count();
}

// The operator, prefill (T = 100) and decode (T = 1, a state pool in place), both paths.
TEST(SseAllocation, NoneWithACallerWorkspace) {
  SerialExecutor serial;
  ThreadPool pool(2);
  for (Executor* executor : {static_cast<Executor*>(&serial), static_cast<Executor*>(&pool)}) {
    for (index_t T : {index_t(1), index_t(100)}) {
      for (Path path : {Path::kMasked, Path::kSparse}) {
        for (Mode mode : {Mode::kChunk, Mode::kRecurrent}) {
          for (index_t K : {index_t(33), index_t(128)}) {
            EXPECT_EQ(allocations_during_sse<GlaRule>(T, K, path, mode, *executor), 0)
                << "GLA K=" << K << " T=" << T << " path " << int(path) << " mode " << int(mode);
            EXPECT_EQ(allocations_during_sse<GdnRule>(T, K, path, mode, *executor), 0)
                << "GDN K=" << K << " T=" << T << " path " << int(path) << " mode " << int(mode);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace sse::test
