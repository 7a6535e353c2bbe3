#pragma once

/// \file
/// `validate_sse_attention`: every check of the SSE operator's entry point, run before anything
/// is written (DESIGN.md sections 3 and 6): shapes and strides of every tensor, 1 <= k <= N,
/// router logits finite or -inf, cu_seqlens, state slots, log decays finite and <= 0, betas in
/// [0, 1] (or [0, 2]), the path, and that no output overlaps an input (ht may be h0 itself).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sse/attention/inputs.hpp"
#include "sse/attention/options.hpp"
#include "sse/attention/outputs.hpp"
#include "sse/core/checks.hpp"
#include "sse/core/sequences.hpp"
#include "sse/error.hpp"
#include "sse/kernels/scan_checks.hpp"
#include "sse/router/router.hpp"

namespace sse {

/// Whether the sparse path runs for these options (DESIGN.md section 3: it needs k_w == k_r;
/// `auto` takes it whenever it applies).
inline bool takes_sparse_path(const AttentionOptions& options) noexcept {
  return options.path == Path::kSparse ||
         (options.path == Path::kAuto && options.writers == options.readers);
}

namespace detail {

/// A state tensor (h0 or ht): [S,1+N,H,K,V], or [P,1+N,H,K,V] with P > every slot.
template <class T>
Status check_state_tensor(const char* name, const TensorView<T, 5>& view, const SseDims& d,
                          bool pooled) {
  const index_t rows = pooled ? view.extent(0) : d.S;
  const char* labels = pooled ? "[P,1+N,H,K,V]" : "[S,1+N,H,K,V]";
  if (Status s = check_shape(name, view, labels, {rows, 1 + d.N, d.H, d.K, d.V}); !s) return s;
  if (pooled && rows < 1) {
    return Status::error(
        name, std::string("a state pool needs P >= 1 slots, got ") + format_shape(view.extents()));
  }
  return check_state_layout(name, view);
}

/// State slots: [S], each in [0, P) for every pool given, no slot used twice. Pools of up to
/// kSlotBitsOnStack slots are checked with a bitset on the stack (decode calls allocate
/// nothing); larger pools sort a copy of the slots.
inline constexpr index_t kSlotBitsOnStack = 1 << 16;

inline Status check_state_slots(TensorView<const std::int64_t, 1> slots, index_t S,
                                index_t pool_rows) {
  if (Status s = check_shape("state_slots", slots, "[S]", {S}); !s) return s;
  for (index_t s = 0; s < S; ++s) {
    if (slots(s) < 0 || slots(s) >= pool_rows) {
      return Status::error("state_slots", std::string("element [") + std::to_string(s) +
                                              "] = " + std::to_string(slots(s)) +
                                              " is outside the pool [0, " +
                                              std::to_string(pool_rows) + ")");
    }
  }
  auto repeated = [](std::int64_t slot) {
    return Status::error("state_slots",
                         std::string("slot ") + std::to_string(slot) +
                             " is used by two sequences; each sequence needs its own state");
  };
  if (pool_rows <= kSlotBitsOnStack) {
    std::array<std::uint64_t, kSlotBitsOnStack / 64> seen{};
    for (index_t s = 0; s < S; ++s) {
      const auto slot = static_cast<std::uint64_t>(slots(s));
      const std::uint64_t bit = std::uint64_t(1) << (slot % 64);
      if (seen[slot / 64] & bit) return repeated(slots(s));
      seen[slot / 64] |= bit;
    }
    return {};
  }
  std::vector<std::int64_t> sorted(static_cast<std::size_t>(S));
  for (index_t s = 0; s < S; ++s) sorted[static_cast<std::size_t>(s)] = slots(s);
  std::sort(sorted.begin(), sorted.end());
  const auto it = std::adjacent_find(sorted.begin(), sorted.end());
  return it == sorted.end() ? Status{} : repeated(*it);
}

}  // namespace detail

/// Checks every input, output and option of `sse_attention`; nothing is read beyond the views'
/// spans. Callers built without exceptions call this before `sse_attention`.
template <class Rule, class T>
Status validate_sse_attention(const SseInputs<Rule, T>& in, const SseOutputs<compute_t<T>>& out,
                              const AttentionOptions& options = {}) {
  static_assert(is_update_rule_v<Rule>,
                "sse::validate_sse_attention: Rule must be GlaRule or GdnRule");
  using detail::check_shape;
  if (Status s = detail::check_query_and_value("q1", in.q1, in.v); !s) return s;
  if (detail::is_missing(in.eta))
    return Status::error("eta", std::string("missing (expected shape [B,T,N])"));
  const SseDims d = sse_dims(in);
  // The shared branch's operands, then the partition branch's.
  const detail::NamedOperands<Rule, T> shared{"q1", in.q1, "k1",    in.k1,
                                              "g1", in.g1, "beta1", in.beta1};
  const detail::NamedOperands<Rule, T> partition{"q2", in.q2, "k2",    in.k2,
                                                 "g2", in.g2, "beta2", in.beta2};
  for (const auto* operands : {&shared, &partition}) {
    if (Status s = detail::check_operand_shapes(*operands, d.B, d.T, d.H, d.K); !s) return s;
  }
  if (Status s = check_shape("v", in.v, "[B,T,H,V]", {d.B, d.T, d.H, d.V}); !s) return s;
  if (Status s = detail::check_unit_inner_stride("v", in.v); !s) return s;
  if (Status s = check_shape("eta", in.eta, "[B,T,N]", {d.B, d.T, d.N}); !s) return s;
  if (Status s = validate_router_logits(in.eta, options.writers, options.readers); !s) return s;
  if (options.path == Path::kSparse && options.writers != options.readers) {
    return Status::error(
        "path", std::string("the sparse path needs writers == readers, got writers = ") +
                    std::to_string(options.writers) +
                    ", readers = " + std::to_string(options.readers) + " (use the masked path)");
  }
  if (Status s = validate_cu_seqlens(in.cu_seqlens, d.B, d.T); !s) return s;

  // States: h0 and ht are [S,...], or pools addressed through state_slots.
  const bool pooled = in.state_slots.present();
  if (pooled && !in.h0.present() && !out.ht.present()) {
    return Status::error("state_slots",
                         std::string("given without h0 or ht (no state pool to address)"));
  }
  if (in.h0.present()) {
    if (Status s = detail::check_state_tensor("h0", in.h0, d, pooled); !s) return s;
  }
  if (out.ht.present()) {
    if (Status s = detail::check_state_tensor("ht", out.ht, d, pooled); !s) return s;
  }
  if (pooled) {
    index_t pool_rows = in.h0.present() ? in.h0.extent(0) : out.ht.extent(0);
    if (out.ht.present()) pool_rows = std::min(pool_rows, out.ht.extent(0));
    if (Status s = detail::check_state_slots(in.state_slots, d.S, pool_rows); !s) return s;
  }

  if (Status s = detail::check_output(out.o, {d.B, d.T, d.H, d.V}); !s) return s;
  const RoutingView& routing = out.routing;
  const int routing_views =
      routing.p.present() + routing.writer_ids.present() + routing.reader_ids.present();
  if (routing_views != 0 && routing_views != 3) {
    return Status::error("routing",
                         std::string("give all of p, writer_ids and reader_ids, or none of them"));
  }
  if (routing_views == 3) {
    if (Status s = validate_routing_view(in.eta, options.writers, options.readers, routing); !s)
      return s;
  }

  // Aliasing: outputs overlap no input and no other output, except ht being exactly h0.
  auto overlaps_input = [&](const auto& view) {
    return views_overlap(view, in.q1) || views_overlap(view, in.k1) || views_overlap(view, in.q2) ||
           views_overlap(view, in.k2) || views_overlap(view, in.v) || views_overlap(view, in.g1) ||
           views_overlap(view, in.g2) || views_overlap(view, in.beta1) ||
           views_overlap(view, in.beta2) || views_overlap(view, in.eta) ||
           views_overlap(view, in.cu_seqlens) || views_overlap(view, in.state_slots);
  };
  auto overlaps_routing = [&](const auto& view) {
    return views_overlap(view, routing.p) || views_overlap(view, routing.writer_ids) ||
           views_overlap(view, routing.reader_ids);
  };
  if (overlaps_input(out.o) || views_overlap(out.o, in.h0) || views_overlap(out.o, out.ht) ||
      overlaps_routing(out.o)) {
    return Status::error(
        "o", std::string("overlaps an input or another output; outputs need their own memory"));
  }
  if (out.ht.present()) {
    const bool in_place =
        in.h0.present() && static_cast<const compute_t<T>*>(out.ht.data()) == in.h0.data() &&
        out.ht.extents() == in.h0.extents() && out.ht.strides() == in.h0.strides();
    if (overlaps_input(out.ht) || overlaps_routing(out.ht) ||
        (!in_place && views_overlap(out.ht, in.h0))) {
      return Status::error(
          "ht",
          "overlaps an input or another output; ht may be h0 itself (in place) but must "
          "not partly overlap it or any other tensor");
    }
  }
  if (routing_views == 3 && (overlaps_input(routing.p) || overlaps_input(routing.writer_ids) ||
                             overlaps_input(routing.reader_ids) || overlaps_routing(in.h0))) {
    return Status::error("routing", std::string("p, writer_ids or reader_ids overlaps an input"));
  }

  if (Status s = detail::check_scale(options.scale); !s) return s;
  for (const auto* operands : {&shared, &partition}) {
    if (Status s =
            detail::check_operand_values(*operands, options.key_rows, options.allow_neg_eigval);
        !s) {
      return s;
    }
  }
  return {};
}

}  // namespace sse
