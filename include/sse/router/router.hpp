#pragma once

/// \file
/// The SSE router (DESIGN.md section 2): per token, p = softmax(eta) over the N partition logits
/// (float32), the k_w partitions of largest p are written and the k_r largest are read; ties go
/// to the lower partition index. One router serves every head.
///
///   eta      [B,T,N]   logits: finite or -inf (probability 0); NaN, +inf, or a token whose
///                      logits are all -inf are input errors
///   p        [B,T,N]   probabilities (output)
///   writers  [B,T,KW]  partition indices 0..N-1, best first (output)
///   readers  [B,T,KR]  partition indices 0..N-1, best first (output)

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

#include "sse/core/checks.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/error.hpp"
#include "sse/router/softmax.hpp"
#include "sse/router/top_k.hpp"

namespace sse {

/// Where `route` writes: all three are required, C-order contiguous or strided with a
/// contiguous last dimension.
struct RoutingView {
  TensorView<float, 3> p;                  // [B,T,N]
  TensorView<std::int32_t, 3> writer_ids;  // [B,T,KW]
  TensorView<std::int32_t, 3> reader_ids;  // [B,T,KR]
};

/// Checks the logits and k_w, k_r: 1 <= k <= N, every logit finite or -inf, and at least one
/// finite logit per token. The message names the tensor.
inline Status validate_router_logits(TensorView<const float, 3> eta, index_t writers,
                                     index_t readers) {
  if (detail::is_missing(eta))
    return Status::error("eta", std::string("missing (expected shape [B,T,N])"));
  const index_t B = eta.extent(0), T = eta.extent(1), N = eta.extent(2);
  if (N < 1)
    return Status::error(
        "eta", std::string("expected N >= 1 partitions, got ") + format_shape(eta.extents()));
  if (Status s = detail::check_unit_inner_stride("eta", eta); !s) return s;
  for (const auto& [name, k] : {std::pair{"writers", writers}, std::pair{"readers", readers}}) {
    if (k < 1 || k > N) {
      return Status::error(name, std::string("expected 1 <= k <= N = ") + std::to_string(N) +
                                     ", got " + std::to_string(k));
    }
  }
  std::array<index_t, 3> at{};
  const float inf = std::numeric_limits<float>::infinity();
  if (detail::find_violation(
          eta, [inf](float x) { return !std::isnan(x) && x != inf; }, at)) {
    std::ostringstream message;
    message << "element " << format_shape(at) << " = " << *eta.at(at)
            << " is not a router logit (finite or -inf)";
    return Status::error("eta", message.str());
  }
  for (index_t b = 0; b < B; ++b) {
    for (index_t t = 0; t < T; ++t) {
      bool any_finite = false;
      for (index_t n = 0; n < N && !any_finite; ++n) any_finite = std::isfinite(eta(b, t, n));
      if (!any_finite) {
        return Status::error("eta", std::string("token [") + std::to_string(b) + "," +
                                        std::to_string(t) +
                                        "] has every logit -inf (no partition can be chosen)");
      }
    }
  }
  return {};
}

/// Checks the routing outputs for logits of shape [B,T,N]: all three present, shaped, with a
/// contiguous last dimension, no element written twice, and no overlap with each other or eta.
inline Status validate_routing_view(TensorView<const float, 3> eta, index_t writers,
                                    index_t readers, const RoutingView& out) {
  const index_t B = eta.extent(0), T = eta.extent(1), N = eta.extent(2);
  if (Status s = detail::check_shape("p", out.p, "[B,T,N]", {B, T, N}); !s) return s;
  if (Status s = detail::check_shape("writer_ids", out.writer_ids, "[B,T,KW]", {B, T, writers});
      !s) {
    return s;
  }
  if (Status s = detail::check_shape("reader_ids", out.reader_ids, "[B,T,KR]", {B, T, readers});
      !s) {
    return s;
  }
  for (const Status& s :
       {detail::check_unit_inner_stride("p", out.p), detail::check_unique("p", out.p),
        detail::check_unit_inner_stride("writer_ids", out.writer_ids),
        detail::check_unique("writer_ids", out.writer_ids),
        detail::check_unit_inner_stride("reader_ids", out.reader_ids),
        detail::check_unique("reader_ids", out.reader_ids)}) {
    if (!s) return s;
  }
  if (views_overlap(out.p, eta) || views_overlap(out.writer_ids, eta) ||
      views_overlap(out.reader_ids, eta) || views_overlap(out.p, out.writer_ids) ||
      views_overlap(out.p, out.reader_ids) || views_overlap(out.writer_ids, out.reader_ids)) {
    return Status::error("p, writer_ids, reader_ids: outputs overlap each other or eta");
  }
  return {};
}

/// Checks the logits, k_w and k_r, and the output views. The message names the tensor.
inline Status validate_route(TensorView<const float, 3> eta, index_t writers, index_t readers,
                             const RoutingView& out) {
  if (Status s = validate_router_logits(eta, writers, readers); !s) return s;
  return validate_routing_view(eta, writers, readers, out);
}

namespace detail {

/// Routes every token of validated input into `out` (no checks).
inline void route_tokens(TensorView<const float, 3> eta, index_t writers, index_t readers,
                         const RoutingView& out) noexcept {
  const index_t B = eta.extent(0), T = eta.extent(1);
  const auto N = static_cast<std::size_t>(eta.extent(2));
  for (index_t b = 0; b < B; ++b) {
    for (index_t t = 0; t < T; ++t) {
      float* p = out.p.at(b, t);
      softmax_row(eta.at(b, t), p, N);
      top_k_row(p, N, static_cast<std::size_t>(writers), out.writer_ids.at(b, t));
      top_k_row(p, N, static_cast<std::size_t>(readers), out.reader_ids.at(b, t));
    }
  }
}

}  // namespace detail

/// Routes every token: p = softmax(eta), then the top `writers` and top `readers` partitions.
/// Throws sse::invalid_argument, with nothing written, on bad input. Cost O(B T N (KW + KR)).
inline void route(TensorView<const float, 3> eta, index_t writers, index_t readers,
                  const RoutingView& out) {
  throw_if_error(validate_route(eta, writers, readers, out));
  detail::route_tokens(eta, writers, readers, out);
}

}  // namespace sse
