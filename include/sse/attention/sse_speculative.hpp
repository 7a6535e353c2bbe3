#pragma once

/// \file
/// Speculative decoding at the operator: verify several tokens per sequence in one call, then
/// keep any prefix of them.
///
///   sse_verify   runs F_s tokens of each sequence s (its last accepted token and F_s - 1
///                drafts) in place on the state pool and writes o for every token, exactly as
///                `sse_attention` does; and keeps, in a caller-sized `Rollback`, each state the
///                tokens past the first touch, as it stood after the first;
///   sse_commit   keeps the first m_s of those tokens, 1 <= m_s <= F_s, as if only they had
///                been decoded one at a time. m_s = F_s keeps the pool as the verify left it
///                (no work); otherwise the states tokens 1 .. F_s - 1 touched are restored
///                from the rollback and tokens 1 .. m_s - 1 are replayed on them.
///
/// The first token is always kept (it is the last accepted one), so rejecting every draft
/// costs copies and no arithmetic. Both calls run the recurrent form, the form of a one-token
/// decode step, which gives a run of tokens the bits of one-token calls (kernels/recurrent.hpp):
/// a verify's outputs and a commit's states are bit for bit those of decoding step by step.
///
/// Memory (`rollback_bytes`), per sequence of F_s >= 2 tokens: the states its tokens past the
/// first touch, H K V elements each, that is the shared state plus, on the sparse path, the
/// partitions routed at least one of them (at most min(N, (F_s - 1) k)), on the masked path all
/// N; and per token its routing and one o-sized row per head for a replay's outputs.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "sse/attention/inputs.hpp"
#include "sse/attention/options.hpp"
#include "sse/attention/outputs.hpp"
#include "sse/attention/sse_attention.hpp"
#include "sse/attention/validate.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/sequences.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/kernels/mode.hpp"
#include "sse/router/router.hpp"

namespace sse {

namespace detail {
struct RollbackAccess;
}

/// What a verify keeps for its commit, in caller-owned memory of at least `rollback_bytes(...)`
/// bytes (any alignment): a view, like `Workspace`. The record lives in the memory itself, so
/// any Rollback over the same bytes sees it. A verify fills it and marks it pending; the commit
/// consumes it. A verify over a pending record keeps every token of the earlier verify (as a
/// commit of all of them would). Fresh memory holds no pending record (unless its first bytes
/// happen to spell the 64-bit mark of one).
class Rollback {
 public:
  Rollback() = default;
  Rollback(void* memory, std::size_t bytes) noexcept : memory_(memory, bytes) {}

  /// Whether a verify awaits its commit.
  bool pending() const noexcept;
  std::size_t size() const noexcept { return memory_.size(); }

 private:
  friend struct detail::RollbackAccess;
  Workspace memory_;
};

namespace detail {

/// The head of a rollback's memory: whether a verify is pending, and its sizes, which its
/// commit must have.
struct RollbackRecord {
  static constexpr std::uint64_t kPending = 0x53534556'45524946;  // "SSEVERIF"
  std::uint64_t mark;
  SseDims dims;
  std::uint64_t element_size;
  bool sparse;
};

/// The rollback's arrays, carved in order from its (aligned) memory.
template <class T>
struct RollbackLayout {
  RollbackRecord* record;    // [1]
  index_t* lengths;          // [S] F_s, the tokens of each sequence at the verify
  index_t* window_ends;      // [S] the window of a verify's first part or a commit's replay
  index_t* group;            // [S, 1+N] the snapshot group of (s, n), or -1 when untouched
  float* p;                  // [B*T, N] the verify's routing
  std::int32_t* writer_ids;  // [B*T, KW]
  std::int32_t* reader_ids;  // [B*T, KR]
  T* o;                      // [B*T, H, V] a replay's outputs (discarded)
  T* snapshot;               // [groups, H, K, V] touched states after each first token

  RollbackLayout(ScratchArena& arena, const SseDims& d, const AttentionOptions& options,
                 index_t groups)
      : record(arena.take<RollbackRecord>(1)),
        lengths(arena.take<index_t>(d.S)),
        window_ends(arena.take<index_t>(d.S)),
        group(arena.take<index_t>(d.S * (1 + d.N))),
        p(arena.take<float>(d.B * d.T * d.N)),
        writer_ids(arena.take<std::int32_t>(d.B * d.T * options.writers)),
        reader_ids(arena.take<std::int32_t>(d.B * d.T * options.readers)),
        o(arena.take<T>(d.B * d.T * d.H * d.V)),
        snapshot(arena.take<T>(groups * d.H * d.K * d.V)) {}

  RoutingView routing(const SseDims& d, const AttentionOptions& options) const noexcept {
    return {{p, {d.B, d.T, d.N}},
            {writer_ids, {d.B, d.T, options.writers}},
            {reader_ids, {d.B, d.T, options.readers}}};
  }
  T* state(index_t g, index_t h, const SseDims& d) const noexcept {
    return snapshot + (g * d.H + h) * d.K * d.V;
  }
};

/// The rollback's memory, for sse_verify and sse_commit.
struct RollbackAccess {
  static std::byte* base(const Rollback& r) noexcept {
    const auto address = reinterpret_cast<std::uintptr_t>(r.memory_.data());
    const std::uintptr_t aligned = (address + kScratchAlignment - 1) & ~(kScratchAlignment - 1);
    return r.memory_.data() + (aligned - address);
  }
  /// The record, or null when the memory cannot hold one.
  static RollbackRecord* record(const Rollback& r) noexcept {
    if (r.memory_.data() == nullptr ||
        r.memory_.size() < sizeof(RollbackRecord) + kScratchAlignment) {
      return nullptr;
    }
    return reinterpret_cast<RollbackRecord*>(base(r));
  }
  template <class T>
  static RollbackLayout<T> layout(const Rollback& r, const SseDims& d,
                                  const AttentionOptions& options, index_t groups) noexcept {
    ScratchArena arena(base(r), r.memory_.size());
    return RollbackLayout<T>(arena, d, options, groups);
  }
};

}  // namespace detail

inline bool Rollback::pending() const noexcept {
  const detail::RollbackRecord* record = detail::RollbackAccess::record(*this);
  return record != nullptr && record->mark == detail::RollbackRecord::kPending;
}

namespace detail {

/// Upper bound of the snapshot groups (states per head) a verify of these sequences takes:
/// what tokens 1 .. F-1 touch, since a commit keeps token 0 always.
inline index_t rollback_groups(const Sequences& sequences, const SseDims& d,
                               const AttentionOptions& options, bool sparse) noexcept {
  index_t groups = 0;
  for (index_t s = 0; s < sequences.count(); ++s) {
    const index_t F = sequences[s].length();
    if (F > 1) groups += 1 + (sparse ? std::min(d.N, (F - 1) * options.writers) : d.N);
  }
  return groups;
}

template <class Rule, class In>
std::size_t rollback_layout_bytes(const SseInputs<Rule, In>& in, const AttentionOptions& options) {
  const SseDims d = sse_dims(in);
  const bool sparse = takes_sparse_path(options);
  const index_t groups = rollback_groups(Sequences(d.B, d.T, in.cu_seqlens), d, options, sparse);
  return measure_scratch<RollbackLayout<compute_t<In>>>(d, options, groups) + kScratchAlignment;
}

/// The state of (sequence s, state n, head h) in the pool `ht`.
template <class Rule, class In, class T>
T* pool_state(const SseInputs<Rule, In>& in, const TensorView<T, 5>& ht, index_t s, index_t n,
              index_t h) noexcept {
  return ht.at(in.state_slots.present() ? in.state_slots(s) : s, n, h);
}

/// Copies every (s, n, h) state with a snapshot group, for the sequences `copies(s)` admits,
/// from the pool to the snapshot (`to_snapshot`) or back, over the executor.
template <class Rule, class In, class T, class Admit>
void copy_snapshots(const SseInputs<Rule, In>& in, const TensorView<T, 5>& ht,
                    const RollbackLayout<T>& layout, const SseDims& d, bool to_snapshot,
                    Admit&& copies, Executor& executor) {
  const auto elements = static_cast<std::size_t>(d.K * d.V);
  const auto states = static_cast<std::size_t>(d.S * (1 + d.N) * d.H);
  auto copy = [&](std::size_t task, std::size_t /*worker*/) {
    const auto h = static_cast<index_t>(task) % d.H;
    const auto n = static_cast<index_t>(task) / d.H % (1 + d.N);
    const auto s = static_cast<index_t>(task) / d.H / (1 + d.N);
    const index_t g = layout.group[s * (1 + d.N) + n];
    if (g < 0 || !copies(s)) return;
    T* pool = pool_state(in, ht, s, n, h);
    T* saved = layout.state(g, h, d);
    if (to_snapshot) {
      std::copy(pool, pool + elements, saved);
    } else {
      std::copy(saved, saved + elements, pool);
    }
  };
  executor.parallel_for(states, copy);
}

/// A verify and its commit update the state pool in place: ht and h0 the same tensor.
template <class Rule, class In>
Status check_pool_in_place(const SseInputs<Rule, In>& in, const TensorView<compute_t<In>, 5>& ht) {
  const bool in_place = ht.present() && in.h0.present() &&
                        static_cast<const void*>(ht.data()) == in.h0.data() &&
                        ht.extents() == in.h0.extents() && ht.strides() == in.h0.strides();
  if (!in_place) {
    return Status::error("ht", std::string("a verify and its commit update the state pool in "
                                           "place: give ht and h0 as the same tensor"));
  }
  return {};
}

}  // namespace detail

/// Bytes of the `Rollback` a verify of these inputs needs (see the file comment).
template <class Rule, class In>
std::size_t rollback_bytes(const SseInputs<Rule, In>& in, const AttentionOptions& options = {}) {
  return detail::rollback_layout_bytes(in, options);
}

/// Checks a verify's input, returning the error `sse_verify` would throw: what
/// `validate_sse_attention` checks, the states updated in place (ht and h0 the same pool), and
/// room for the record in `rollback`.
template <class Rule, class In>
Status validate_sse_verify(const SseInputs<Rule, In>& in, const SseOutputs<compute_t<In>>& out,
                           const AttentionOptions& options, const Rollback& rollback) {
  if (Status s = validate_sse_attention(in, out, options); !s) return s;
  if (Status s = detail::check_pool_in_place(in, out.ht); !s) return s;
  const std::size_t needed = detail::rollback_layout_bytes(in, options);
  if (rollback.size() < needed) {
    return Status::error("rollback", std::string("needs ") + std::to_string(needed) +
                                         " bytes for these inputs (rollback_bytes), got " +
                                         std::to_string(rollback.size()));
  }
  return {};
}

/// Runs F_s = the sequence's tokens through the operator in place (ht and h0 the same pool):
/// o for every token and ht as `sse_attention` gives them, in the recurrent form. Records in
/// `rollback` what `sse_commit` needs. The workspace of `sse_attention_workspace_size` serves.
/// Throws sse::invalid_argument, with nothing written, on bad input.
template <class Rule, class ChunkSchedule = DefaultChunked, class In>
void sse_verify(const SseInputs<Rule, In>& in, const SseOutputs<compute_t<In>>& out,
                const AttentionOptions& options, Executor& executor, Rollback& rollback,
                Workspace workspace = {}) {
  using T = compute_t<In>;
  throw_if_error(validate_sse_verify(in, out, options, rollback));
  const SseDims d = sse_dims(in);
  const bool sparse = takes_sparse_path(options);
  const Sequences sequences(d.B, d.T, in.cu_seqlens);
  const auto layout = detail::RollbackAccess::layout<T>(
      rollback, d, options, detail::rollback_groups(sequences, d, options, sparse));

  // The touched states of each sequence, from its tokens' routing.
  SseOutputs<T> run = out;
  run.routing = layout.routing(d, options);
  detail::route_tokens(in.eta, options.writers, options.readers, run.routing);
  index_t groups = 0;
  for (index_t s = 0; s < d.S; ++s) {
    const SequenceSpan span = sequences[s];
    index_t* group = layout.group + s * (1 + d.N);
    std::fill(group, group + 1 + d.N, index_t{-1});
    layout.lengths[s] = span.length();
    layout.window_ends[s] = std::min<index_t>(1, span.length());
    if (span.length() < 2) continue;  // a commit keeps token 0: nothing to restore
    group[0] = groups++;
    for (index_t t = span.begin + 1; t < span.end; ++t) {  // what tokens past the first touch
      const std::int32_t* writers = run.routing.writer_ids.at(span.batch, t);
      for (index_t i = 0; i < options.writers; ++i) {
        if (group[1 + writers[i]] < 0) group[1 + writers[i]] = groups++;
      }
    }
    if (!sparse) {
      for (index_t n = 1; n <= d.N; ++n) {
        if (group[n] < 0) group[n] = groups++;
      }
    }
  }

  // Each sequence's first token, the snapshot of what the tokens touch, then the rest.
  detail::run_sse_attention<Rule, ChunkSchedule>(in, run, options, Mode::kRecurrent,
                                                 sequences.window(0, layout.window_ends), executor,
                                                 workspace);
  detail::copy_snapshots(
      in, out.ht, layout, d, true, [](index_t) { return true; }, executor);
  detail::run_sse_attention<Rule, ChunkSchedule>(in, run, options, Mode::kRecurrent,
                                                 sequences.window(1), executor, workspace);
  if (out.routing.p.present()) {  // the caller asked for the routing too
    const auto tokens = static_cast<std::size_t>(d.B * d.T);
    for (std::size_t i = 0; i < tokens; ++i) {
      const auto b = static_cast<index_t>(i) / d.T, t = static_cast<index_t>(i) % d.T;
      std::copy(run.routing.p.at(b, t), run.routing.p.at(b, t) + d.N, out.routing.p.at(b, t));
      std::copy(run.routing.writer_ids.at(b, t), run.routing.writer_ids.at(b, t) + options.writers,
                out.routing.writer_ids.at(b, t));
      std::copy(run.routing.reader_ids.at(b, t), run.routing.reader_ids.at(b, t) + options.readers,
                out.routing.reader_ids.at(b, t));
    }
  }
  *layout.record = {detail::RollbackRecord::kPending, d, sizeof(T), sparse};
}

/// Checks a commit, returning the error `sse_commit` would throw: a pending verify of the same
/// sizes and path, the same pool, and `accepted` [S] with 1 <= m_s <= F_s (0 for an empty
/// sequence).
template <class Rule, class In>
Status validate_sse_commit(const SseInputs<Rule, In>& in, TensorView<const index_t, 1> accepted,
                           const TensorView<compute_t<In>, 5>& ht, const AttentionOptions& options,
                           const Rollback& rollback) {
  using T = compute_t<In>;
  if (!rollback.pending()) {
    return Status::error("rollback", std::string("no verify awaits a commit"));
  }
  const SseDims d = sse_dims(in);
  const detail::RollbackRecord& record = *detail::RollbackAccess::record(rollback);
  const SseDims& v = record.dims;
  if (d.B != v.B || d.T != v.T || d.H != v.H || d.K != v.K || d.V != v.V || d.N != v.N ||
      d.S != v.S || takes_sparse_path(options) != record.sparse ||
      record.element_size != sizeof(T)) {
    return Status::error("rollback", std::string("the inputs and options differ from the verify's "
                                                 "(a commit takes the verify's inputs)"));
  }
  if (accepted.extent(0) != d.S) {
    return Status::error("accepted", std::string("expected shape [S] = [") + std::to_string(d.S) +
                                         "], got [" + std::to_string(accepted.extent(0)) + "]");
  }
  const auto layout = detail::RollbackAccess::layout<T>(rollback, d, options, 0);
  for (index_t s = 0; s < d.S; ++s) {
    const index_t F = layout.lengths[s], m = accepted(s);
    if (F == 0 ? m != 0 : (m < 1 || m > F)) {
      return Status::error("accepted", std::string("sequence ") + std::to_string(s) + " keeps " +
                                           std::to_string(m) + " of its " + std::to_string(F) +
                                           " verified tokens; expected 1 to " + std::to_string(F) +
                                           (F == 0 ? " (0 for an empty sequence)" : ""));
    }
  }
  SseOutputs<T> run;
  run.o = {layout.o, {d.B, d.T, d.H, d.V}};
  run.ht = ht;
  if (Status s = validate_sse_attention(in, run, options); !s) return s;
  return detail::check_pool_in_place(in, ht);
}

/// Keeps the first accepted(s) tokens of each sequence of the pending verify: the pool `ht`
/// (the verify's, in place with h0) ends as decoding those tokens one by one leaves it. `in`
/// and `options` must be the verify's. Throws sse::invalid_argument, with nothing changed, on
/// bad input (no pending verify, other sizes, a count outside 1..F_s).
template <class Rule, class ChunkSchedule = DefaultChunked, class In>
void sse_commit(const SseInputs<Rule, In>& in, TensorView<const index_t, 1> accepted,
                const TensorView<compute_t<In>, 5>& ht, const AttentionOptions& options,
                Executor& executor, Rollback& rollback, Workspace workspace = {}) {
  using T = compute_t<In>;
  throw_if_error(validate_sse_commit(in, accepted, ht, options, rollback));
  const SseDims d = sse_dims(in);
  const auto layout = detail::RollbackAccess::layout<T>(rollback, d, options, 0);
  bool replays = false;
  for (index_t s = 0; s < d.S; ++s) {  // replay [1, m_s) where drafts were rejected, else none
    const bool rejected = accepted(s) < layout.lengths[s];
    layout.window_ends[s] = rejected ? accepted(s) : 0;
    replays = replays || rejected;
  }
  if (replays) {
    detail::copy_snapshots(
        in, ht, layout, d, false, [&](index_t s) { return accepted(s) < layout.lengths[s]; },
        executor);
    SseOutputs<T> run;
    run.o = {layout.o, {d.B, d.T, d.H, d.V}};
    run.ht = ht;
    run.routing = layout.routing(d, options);
    detail::run_sse_attention<Rule, ChunkSchedule>(
        in, run, options, Mode::kRecurrent,
        Sequences(d.B, d.T, in.cu_seqlens).window(1, layout.window_ends), executor, workspace);
  }
  layout.record->mark = 0;
}

}  // namespace sse
