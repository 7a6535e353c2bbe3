#pragma once

/// \file
/// `scan<Rule>`: the public entry point of one base recurrence (GLA or Gated DeltaNet) over a
/// batch, the dense baseline of SSE (DESIGN.md section 1; `sse-run scan`).
///
///   inputs   q, k [B,T,H,K]; v [B,T,H,V]; g [B,T,H,K] (GLA) or [B,T,H] (GDN); beta [B,T,H]
///            (GDN); optional h0 [S,H,K,V]; optional cu_seqlens [S+1] (B = 1, packed)
///   outputs  o [B,T,H,V]; optional ht [S,H,K,V] (may be the very buffer of h0: in place)
///
/// S is B, or the number of packed sequences. Work is split into S * H independent
/// (sequence, head) tasks on the executor, so results are the same bits for any thread count.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sse/config.hpp"
#include "sse/core/checks.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/sequences.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/kernels/chunked.hpp"
#include "sse/kernels/head_sequence.hpp"
#include "sse/kernels/recurrent.hpp"
#include "sse/kernels/row_sparse_key.hpp"
#include "sse/kernels/scan_options.hpp"
#include "sse/kernels/schedule.hpp"
#include "sse/rules/rule_traits.hpp"
#include "sse/state/state.hpp"

namespace sse {

template <class Rule, class T = float>
struct ScanInputs {
  TensorView<const T, 4> q;                      // [B,T,H,K]
  TensorView<const T, 4> k;                      // [B,T,H,K]
  TensorView<const T, 4> v;                      // [B,T,H,V]
  TensorView<const T, gate_rank_v<Rule>> g;      // [B,T,H,K] (GLA) or [B,T,H] (GDN)
  TensorView<const T, 3> beta;                   // [B,T,H], rules with beta only
  TensorView<const T, 4> h0;                     // [S,H,K,V], optional (zero state)
  TensorView<const std::int64_t, 1> cu_seqlens;  // [S+1], optional
};

template <class T = float>
struct ScanOutputs {
  TensorView<T, 4> o;   // [B,T,H,V]
  TensorView<T, 4> ht;  // [S,H,K,V], optional
};

/// The sizes of a scan, read from its inputs.
struct ScanDims {
  index_t B = 0, T = 0, H = 0, K = 0, V = 0, S = 0;
};

template <class Rule, class T>
ScanDims scan_dims(const ScanInputs<Rule, T>& in) noexcept {
  ScanDims d;
  d.B = in.q.extent(0);
  d.T = in.q.extent(1);
  d.H = in.q.extent(2);
  d.K = in.q.extent(3);
  d.V = in.v.extent(3);
  d.S = in.cu_seqlens.present() ? in.cu_seqlens.extent(0) - 1 : d.B;
  return d;
}

/// Checks every input, output and option of a scan; nothing is read beyond the views' spans.
/// Callers built without exceptions call this before `scan`.
template <class Rule, class T>
Status validate_scan(const ScanInputs<Rule, T>& in, const ScanOutputs<T>& out,
                     const ScanOptions& options = {}) {
  static_assert(is_update_rule_v<Rule>, "sse::validate_scan: Rule must be GlaRule or GdnRule");
  if (detail::is_missing(in.q)) return Status::error("q: missing (expected shape [B,T,H,K])");
  if (detail::is_missing(in.v)) return Status::error("v: missing (expected shape [B,T,H,V])");
  const ScanDims d = scan_dims(in);
  if (d.B < 1 || d.T < 0 || d.H < 1 || d.K < 1) {
    return Status::error("q: expected shape [B,T,H,K] with B, H, K >= 1, got " +
                         format_shape(in.q.extents()));
  }
  if (d.V < 1) return Status::error("v: expected V >= 1, got " + format_shape(in.v.extents()));

  const Extents<4> qk_shape{d.B, d.T, d.H, d.K};
  if (Status s = detail::check_shape("k", in.k, "[B,T,H,K]", qk_shape); !s) return s;
  if (Status s = detail::check_shape("v", in.v, "[B,T,H,V]", {d.B, d.T, d.H, d.V}); !s) return s;
  if constexpr (Rule::kPerKeyDecay) {
    if (Status s = detail::check_shape("g", in.g, "[B,T,H,K]", qk_shape); !s) return s;
  } else {
    if (Status s = detail::check_shape("g", in.g, "[B,T,H]", {d.B, d.T, d.H}); !s) return s;
  }
  if constexpr (Rule::kHasBeta) {
    if (Status s = detail::check_shape("beta", in.beta, "[B,T,H]", {d.B, d.T, d.H}); !s) return s;
  } else if (in.beta.present()) {
    return Status::error(std::string("beta: the ") + Rule::kName + " rule takes no beta");
  }
  if (Status s = validate_cu_seqlens(in.cu_seqlens, d.B, d.T); !s) return s;
  const Extents<4> state_shape{d.S, d.H, d.K, d.V};
  if (in.h0.present()) {
    if (Status s = detail::check_shape("h0", in.h0, "[S,H,K,V]", state_shape); !s) return s;
    if (Status s = detail::check_unit_inner_stride("h0", in.h0); !s) return s;
    if (Status s = detail::check_state_layout("h0", in.h0); !s) return s;
  }
  if (Status s = detail::check_shape("o", out.o, "[B,T,H,V]", {d.B, d.T, d.H, d.V}); !s) return s;
  if (Status s = detail::check_unit_inner_stride("o", out.o); !s) return s;
  if (Status s = detail::check_unique("o", out.o); !s) return s;
  if (out.ht.present()) {
    if (Status s = detail::check_shape("ht", out.ht, "[S,H,K,V]", state_shape); !s) return s;
    if (Status s = detail::check_unit_inner_stride("ht", out.ht); !s) return s;
    if (Status s = detail::check_state_layout("ht", out.ht); !s) return s;
  }
  for (const Status& s :
       {detail::check_unit_inner_stride("q", in.q), detail::check_unit_inner_stride("k", in.k),
        detail::check_unit_inner_stride("v", in.v), detail::check_unit_inner_stride("g", in.g),
        detail::check_unit_inner_stride("beta", in.beta)}) {
    if (!s) return s;
  }

  // Aliasing: outputs overlap no input, except ht being exactly h0 (an in-place update).
  auto overlaps_input = [&](const auto& view) {
    return views_overlap(view, in.q) || views_overlap(view, in.k) || views_overlap(view, in.v) ||
           views_overlap(view, in.g) || views_overlap(view, in.beta) ||
           views_overlap(view, in.cu_seqlens);
  };
  if (overlaps_input(out.o) || views_overlap(out.o, in.h0) || views_overlap(out.o, out.ht)) {
    return Status::error("o: overlaps an input or ht; outputs must have their own memory");
  }
  if (out.ht.present()) {
    const bool in_place = in.h0.present() && static_cast<const T*>(out.ht.data()) == in.h0.data() &&
                          out.ht.strides() == in.h0.strides();
    if (overlaps_input(out.ht) || (!in_place && views_overlap(out.ht, in.h0))) {
      return Status::error(
          "ht: overlaps an input; ht may be h0 itself (in place) but must "
          "not partly overlap it or any other input");
    }
  }

  if (options.scale && !std::isfinite(*options.scale)) {
    return Status::error("scale: must be finite, got " + std::to_string(*options.scale));
  }
  if (Status s = detail::check_log_decays("g", in.g); !s) return s;
  if (Status s = detail::check_key_rows<Rule>(options.key_rows, "k", in.k); !s) return s;
  if constexpr (Rule::kHasBeta) {
    const double beta_max = options.allow_neg_eigval ? 2.0 : 1.0;
    const char* what = options.allow_neg_eigval
                           ? "is outside [0, 2]"
                           : "is outside [0, 1] (beta up to 2 needs allow_neg_eigval)";
    if (Status s = detail::check_range("beta", in.beta, 0.0, beta_max, what); !s) return s;
  }
  return {};
}

namespace detail {

template <class Rule, index_t C, class T>
std::size_t scan_slice_bytes(const ScanDims& d, const ScanOutputs<T>& out) noexcept {
  std::size_t bytes = std::max(ScanKernel<Rule, Recurrent>::template scratch_bytes<T>(d.K, d.V),
                               ScanKernel<Rule, Chunked<C>>::template scratch_bytes<T>(d.K, d.V));
  // Without ht the state of a task lives in the scratch slice.
  if (!out.ht.present()) bytes += ScratchArena::round_up(sizeof(T) * d.K * d.V);
  return bytes;
}

}  // namespace detail

/// Bytes of the `Workspace` that lets `scan` run without allocating, for these inputs and
/// outputs on `executor`.
template <class Rule, class ChunkSchedule = DefaultChunked, class T>
std::size_t scan_workspace_size(const ScanInputs<Rule, T>& in, const ScanOutputs<T>& out,
                                const Executor& executor) noexcept {
  const ScanDims d = scan_dims(in);
  return detail::WorkerScratch::required_bytes(
      executor.concurrency(), detail::scan_slice_bytes<Rule, ChunkSchedule::kChunkSize>(d, out));
}

/// Runs the recurrence `Rule` over every (sequence, head) of the batch, writing o and (when
/// given) ht. Throws sse::invalid_argument, with nothing written, on bad input. With a
/// workspace of scan_workspace_size(...) bytes it allocates nothing.
///
/// Cost: about 4 K V flops per token and head in recurrent form; in chunked form
/// 2 C (K + V) + 4 K V, as matrix-matrix products.
template <class Rule, class ChunkSchedule = DefaultChunked, class T>
void scan(const ScanInputs<Rule, T>& in, const ScanOutputs<T>& out, const ScanOptions& options,
          Executor& executor, Workspace workspace = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "sse::scan: the element type must be float or double");
  constexpr index_t C = ChunkSchedule::kChunkSize;
  using Arch = default_arch;
  throw_if_error(validate_scan(in, out, options));

  const ScanDims d = scan_dims(in);
  const Sequences sequences(d.B, d.T, in.cu_seqlens);
  const bool qk_l2norm = options.qk_l2norm.value_or(Rule::kDefaultQkL2norm);
  const T scale = static_cast<T>(options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d.K))));
  const std::size_t slice_bytes = detail::scan_slice_bytes<Rule, C>(d, out);
  const detail::WorkerScratch scratch(workspace, executor.concurrency(), slice_bytes);
  const std::size_t state_elements = static_cast<std::size_t>(d.K * d.V);

  auto run_task = [&](std::size_t task, std::size_t worker) {
    const auto s = static_cast<index_t>(task) / d.H;
    const auto h = static_cast<index_t>(task) % d.H;
    const SequenceSpan span = sequences[s];
    ScratchArena arena = scratch.arena(worker);

    StateView<T> state{out.ht.present() ? out.ht.at(s, h) : arena.take<T>(state_elements), d.K,
                       d.V};
    if (!in.h0.present()) {
      std::fill(state.data, state.data + state_elements, T(0));
    } else if (in.h0.at(s, h) != state.data) {
      std::copy(in.h0.at(s, h), in.h0.at(s, h) + state_elements, state.data);
    }

    if (span.length() == 0) return;  // an empty sequence leaves its state as it was

    HeadSequence<T> seq;
    seq.length = span.length();
    seq.K = d.K;
    seq.V = d.V;
    seq.q = {in.q.at(span.batch, span.begin, h), in.q.stride(1)};
    seq.k = {in.k.at(span.batch, span.begin, h), in.k.stride(1)};
    seq.v = {in.v.at(span.batch, span.begin, h), in.v.stride(1)};
    seq.g = {in.g.at(span.batch, span.begin, h), in.g.stride(1)};
    if (in.beta.present()) seq.beta = {in.beta.at(span.batch, span.begin, h), in.beta.stride(1)};
    seq.o = {out.o.at(span.batch, span.begin, h), out.o.stride(1)};
    seq.scale = scale;
    seq.qk_l2norm = qk_l2norm;
    seq.key_rows = options.key_rows;

    const bool chunked = options.mode == Mode::kChunk ||
                         (options.mode == Mode::kAuto && seq.length >= kAutoChunkMinLength);
    if (chunked) {
      ScanKernel<Rule, Chunked<C>>::run(Arch{}, seq, state, arena);
    } else {
      ScanKernel<Rule, Recurrent>::run(Arch{}, seq, state, arena);
    }
  };
  executor.parallel_for(static_cast<std::size_t>(d.S * d.H), run_task);
}

/// `scan` on the calling thread.
template <class Rule, class ChunkSchedule = DefaultChunked, class T>
void scan(const ScanInputs<Rule, T>& in, const ScanOutputs<T>& out,
          const ScanOptions& options = {}) {
  SerialExecutor serial;
  scan<Rule, ChunkSchedule>(in, out, options, serial);
}

}  // namespace sse
