#pragma once

/// \file
/// `scan<Rule>`: the public entry point of one base recurrence (GLA or Gated DeltaNet) over a
/// batch, the dense baseline of SSE (DESIGN.md section 1; `sse-run scan`); its tensors are in
/// kernels/scan_inputs.hpp.
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
#include "sse/kernels/head_task.hpp"
#include "sse/kernels/scan_checks.hpp"
#include "sse/kernels/scan_inputs.hpp"
#include "sse/kernels/scan_options.hpp"
#include "sse/kernels/schedule.hpp"
#include "sse/rules/rule_traits.hpp"
#include "sse/state/state.hpp"

namespace sse {

/// Checks every input, output and option of a scan; nothing is read beyond the views' spans.
/// Callers built without exceptions call this before `scan`.
template <class Rule, class T>
Status validate_scan(const ScanInputs<Rule, T>& in, const ScanOutputs<T>& out,
                     const ScanOptions& options = {}) {
  static_assert(is_update_rule_v<Rule>, "sse::validate_scan: Rule must be GlaRule or GdnRule");
  if (Status s = detail::check_query_and_value("q", in.q, in.v); !s) return s;
  const ScanDims d = scan_dims(in);
  const detail::NamedOperands<Rule, T> operands{"q", in.q, "k", in.k, "g", in.g, "beta", in.beta};
  if (Status s = detail::check_operand_shapes(operands, d.B, d.T, d.H, d.K); !s) return s;
  if (Status s = detail::check_shape("v", in.v, "[B,T,H,V]", {d.B, d.T, d.H, d.V}); !s) return s;
  if (Status s = detail::check_unit_inner_stride("v", in.v); !s) return s;
  if (Status s = validate_cu_seqlens(in.cu_seqlens, d.B, d.T); !s) return s;
  const Extents<4> state_shape{d.S, d.H, d.K, d.V};
  if (in.h0.present()) {
    if (Status s = detail::check_shape("h0", in.h0, "[S,H,K,V]", state_shape); !s) return s;
    if (Status s = detail::check_unit_inner_stride("h0", in.h0); !s) return s;
    if (Status s = detail::check_state_layout("h0", in.h0); !s) return s;
  }
  if (Status s = detail::check_output(out.o, {d.B, d.T, d.H, d.V}); !s) return s;
  if (out.ht.present()) {
    if (Status s = detail::check_shape("ht", out.ht, "[S,H,K,V]", state_shape); !s) return s;
    if (Status s = detail::check_unit_inner_stride("ht", out.ht); !s) return s;
    if (Status s = detail::check_state_layout("ht", out.ht); !s) return s;
  }

  // Aliasing: outputs overlap no input, except ht being exactly h0 (an in-place update).
  auto overlaps_input = [&](const auto& view) {
    return views_overlap(view, in.q) || views_overlap(view, in.k) || views_overlap(view, in.v) ||
           views_overlap(view, in.g) || views_overlap(view, in.beta) ||
           views_overlap(view, in.cu_seqlens);
  };
  if (overlaps_input(out.o) || views_overlap(out.o, in.h0) || views_overlap(out.o, out.ht)) {
    return Status::error(
        "o", std::string("overlaps an input or ht; outputs must have their own memory"));
  }
  if (out.ht.present()) {
    const bool in_place = in.h0.present() && static_cast<const T*>(out.ht.data()) == in.h0.data() &&
                          out.ht.strides() == in.h0.strides();
    if (overlaps_input(out.ht) || (!in_place && views_overlap(out.ht, in.h0))) {
      return Status::error("ht",
                           "overlaps an input; ht may be h0 itself (in place) but must "
                           "not partly overlap it or any other input");
    }
  }

  if (Status s = detail::check_scale(options.scale); !s) return s;
  return detail::check_operand_values(operands, options.key_rows, options.allow_neg_eigval);
}

/// Bytes of the `Workspace` that lets `scan` run without allocating, for these inputs and
/// outputs on `executor`.
template <class Rule, class ChunkSchedule = DefaultChunked, class T>
std::size_t scan_workspace_size(const ScanInputs<Rule, T>& in, const ScanOutputs<T>& out,
                                const Executor& executor) noexcept {
  const ScanDims d = scan_dims(in);
  return detail::WorkerScratch::required_bytes(
      executor.concurrency(),
      detail::head_task_bytes<Rule, ChunkSchedule::kChunkSize, T>(d.K, d.V, out.ht.present()));
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
  detail::HeadSettings<T> settings;
  settings.scale =
      static_cast<T>(options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d.K))));
  settings.qk_l2norm = options.qk_l2norm.value_or(Rule::kDefaultQkL2norm);
  settings.key_rows = options.key_rows;
  const std::size_t slice_bytes = detail::head_task_bytes<Rule, C, T>(d.K, d.V, out.ht.present());
  const detail::WorkerScratch scratch(workspace, executor.concurrency(), slice_bytes);

  auto run_task = [&](std::size_t task, std::size_t worker) {
    const auto s = static_cast<index_t>(task) / d.H;
    const auto h = static_cast<index_t>(task) % d.H;
    const SequenceSpan span = sequences[s];
    ScratchArena arena = scratch.arena(worker);
    const StateView<T> state =
        detail::begin_state(out.ht.present() ? out.ht.at(s, h) : nullptr,
                            in.h0.present() ? in.h0.at(s, h) : nullptr, d.K, d.V, arena);
    if (span.length() == 0) return;  // an empty sequence leaves its state as it was
    const HeadSequence<T> seq = detail::tensor_head_sequence<Rule>(in.q, in.k, in.v, in.g, in.beta,
                                                                   out.o, span, h, settings);
    detail::run_head_kernel<Rule, C>(Arch{}, options.mode, seq.length, seq, state, arena);
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
