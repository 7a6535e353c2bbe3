#pragma once

/// \file
/// `sse_attention<Rule>`: the SSE operator (DESIGN.md section 3), the public entry point.
///
///   validate -> route every token (p, writers, readers) -> phase 1: (sequence, head, branch)
///   tasks on the executor (shared branches first, they are the longest) -> phase 2: per
///   (sequence, head), o += the read partitions' rows in a fixed order.
///
/// Tasks are independent and every sum has a fixed order, so the result is the same bits for
/// any thread count. With a workspace of `sse_attention_workspace_size(...)` bytes the call
/// allocates nothing.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sse/attention/inputs.hpp"
#include "sse/attention/masked_selection.hpp"
#include "sse/attention/options.hpp"
#include "sse/attention/outputs.hpp"
#include "sse/attention/partition_branch.hpp"
#include "sse/attention/shared_branch.hpp"
#include "sse/attention/sparse_selection.hpp"
#include "sse/attention/sse_call.hpp"
#include "sse/attention/validate.hpp"
#include "sse/config.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/router/router.hpp"

namespace sse {
namespace detail {

/// The region every task shares: the routing (when the caller does not take it) and the
/// partitions' read rows.
template <class T>
struct SseSharedScratch {
  float* p;                  // [B*T, N]
  std::int32_t* writer_ids;  // [B*T, KW]
  std::int32_t* reader_ids;  // [B*T, KR]
  T* partial;                // [B*T, KR, H, V]
  index_t* routed_tokens;    // [B*T*KW] sparse path: the tokens of each partition
  index_t* routed_offsets;   // [S, N+1]
  SseSharedScratch(ScratchArena& arena, const SseDims& d, index_t KW, index_t KR, bool own_routing,
                   bool sparse) {
    const index_t tokens = d.B * d.T;
    p = arena.take<float>(own_routing ? tokens * d.N : 0);
    writer_ids = arena.take<std::int32_t>(own_routing ? tokens * KW : 0);
    reader_ids = arena.take<std::int32_t>(own_routing ? tokens * KR : 0);
    partial = arena.take<T>(tokens * KR * d.H * d.V);
    routed_tokens = arena.take<index_t>(sparse ? tokens * KW : 0);
    routed_offsets = arena.take<index_t>(sparse ? d.S * (d.N + 1) : 0);
  }
};

template <class T>
std::size_t sse_shared_bytes(const SseDims& d, const AttentionOptions& options,
                             bool own_routing) noexcept {
  return measure_scratch<SseSharedScratch<T>>(d, options.writers, options.readers, own_routing,
                                              takes_sparse_path(options));
}

}  // namespace detail

/// Bytes of the `Workspace` that lets `sse_attention` run without allocating, for these
/// tensors and options on `executor`.
template <class Rule, class ChunkSchedule = DefaultChunked, class In>
std::size_t sse_attention_workspace_size(const SseInputs<Rule, In>& in,
                                         const SseOutputs<compute_t<In>>& out,
                                         const AttentionOptions& options,
                                         const Executor& executor) noexcept {
  using T = compute_t<In>;
  const SseDims d = sse_dims(in);
  return detail::WorkerScratch::required_bytes(
      executor.concurrency(),
      detail::branch_slice_bytes<Rule, ChunkSchedule::kChunkSize, T>(d, out.ht.present()),
      detail::sse_shared_bytes<T>(d, options, !out.routing.p.present()));
}

namespace detail {

/// The operator on validated input over `sequences` (the call's own, or a window of each, as
/// the speculative verify and commit run it), with the form `mode` picks.
template <class Rule, class ChunkSchedule, class In>
void run_sse_attention(const SseInputs<Rule, In>& in, const SseOutputs<compute_t<In>>& out,
                       const AttentionOptions& options, Mode mode, const Sequences& sequences,
                       Executor& executor, Workspace workspace) {
  using T = compute_t<In>;
  constexpr index_t C = ChunkSchedule::kChunkSize;
  using Arch = default_arch;
  const SseDims d = sse_dims(in);
  const bool own_routing = !out.routing.p.present();
  const detail::WorkerScratch scratch(workspace, executor.concurrency(),
                                      detail::branch_slice_bytes<Rule, C, T>(d, out.ht.present()),
                                      detail::sse_shared_bytes<T>(d, options, own_routing));
  ScratchArena shared_arena = scratch.shared();
  const bool sparse = takes_sparse_path(options);
  const detail::SseSharedScratch<T> shared(shared_arena, d, options.writers, options.readers,
                                           own_routing, sparse);

  RoutingView routing = out.routing;
  if (own_routing) {
    routing.p = {shared.p, {d.B, d.T, d.N}};
    routing.writer_ids = {shared.writer_ids, {d.B, d.T, options.writers}};
    routing.reader_ids = {shared.reader_ids, {d.B, d.T, options.readers}};
  }
  detail::route_tokens(in.eta, options.writers, options.readers, routing);
  if (sparse) {
    detail::bucket_routed_tokens(routing, sequences, d.N, shared.routed_tokens,
                                 shared.routed_offsets);
  }

  const detail::SseCall<Rule, In> call{
      in,
      out,
      d,
      sequences,
      routing,
      shared.partial,
      {static_cast<T>(options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d.K)))),
       options.qk_l2norm.value_or(Rule::kDefaultQkL2norm), options.key_rows},
      options.emulq,
      options.emulk,
      mode,
      shared.routed_tokens,
      shared.routed_offsets};
  const auto heads = static_cast<std::size_t>(d.S * d.H);

  // Phase 1: tasks [0, S*H) are the shared branches, then S*H*N partition branches.
  auto run_branch = [&](std::size_t task, std::size_t worker) {
    const ScratchArena arena = scratch.arena(worker);
    if (task < heads) {
      const auto s = static_cast<index_t>(task) / d.H, h = static_cast<index_t>(task) % d.H;
      detail::run_shared_branch<Rule, C>(Arch{}, call, s, h, arena);
      return;
    }
    const auto rest = static_cast<index_t>(task - heads);
    const index_t n = 1 + rest % d.N;
    const index_t s = rest / d.N / d.H, h = rest / d.N % d.H;
    if (sparse) {
      detail::run_partition_branch<Rule, C, detail::SparsePath>(Arch{}, call, s, h, n, arena);
    } else {
      detail::run_partition_branch<Rule, C, detail::MaskedPath>(Arch{}, call, s, h, n, arena);
    }
  };
  executor.parallel_for(heads * static_cast<std::size_t>(1 + d.N), run_branch);

  // Phase 2: the partitions' read rows into o.
  auto add_outputs = [&](std::size_t task, std::size_t /*worker*/) {
    const auto s = static_cast<index_t>(task) / d.H, h = static_cast<index_t>(task) % d.H;
    detail::add_partition_outputs(Arch{}, call, s, h);
  };
  executor.parallel_for(heads, add_outputs);
}

}  // namespace detail

/// Runs the SSE operator: o (and ht, and the routing when asked for) from the inputs. Throws
/// sse::invalid_argument, with nothing written, on bad input.
///
/// Cost per token and head: the shared state plus the partitions the path runs (1 + k on the
/// sparse path, 1 + N on the masked one), each about 4 K V flops in recurrent form or
/// 2 C (K + V) + 4 K V in chunked form.
///
/// Inputs may be float, double or bfloat16; bfloat16 rows are widened to float as the branches
/// gather them, and states, outputs and every sum are float.
template <class Rule, class ChunkSchedule = DefaultChunked, class In>
void sse_attention(const SseInputs<Rule, In>& in, const SseOutputs<compute_t<In>>& out,
                   const AttentionOptions& options, Executor& executor, Workspace workspace = {}) {
  using T = compute_t<In>;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "sse::sse_attention: the element type must be float, double or bfloat16");
  throw_if_error(validate_sse_attention(in, out, options));
  const SseDims d = sse_dims(in);
  detail::run_sse_attention<Rule, ChunkSchedule>(
      in, out, options, options.mode, Sequences(d.B, d.T, in.cu_seqlens), executor, workspace);
}

/// `sse_attention` on the calling thread.
template <class Rule, class ChunkSchedule = DefaultChunked, class In>
void sse_attention(const SseInputs<Rule, In>& in, const SseOutputs<compute_t<In>>& out,
                   const AttentionOptions& options = {}) {
  SerialExecutor serial;
  sse_attention<Rule, ChunkSchedule>(in, out, options, serial);
}

}  // namespace sse
