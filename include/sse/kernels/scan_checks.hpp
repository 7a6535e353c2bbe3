#pragma once

/// \file
/// The checks a scan and the SSE operator share (their validate functions run them in the same
/// order): the query and value that define the sizes, one recurrence's operands (q, k, g and
/// beta: shapes by rule, unit inner strides, finite non-positive log decays, beta in range,
/// key logits for the row-level sparse update), the output o and the scale.

#include <array>
#include <cmath>
#include <optional>
#include <sstream>
#include <string>

#include "sse/core/bfloat16.hpp"
#include "sse/core/checks.hpp"
#include "sse/core/shape.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/error.hpp"
#include "sse/rules/rule_traits.hpp"

namespace sse::detail {

/// q [B,T,H,K] and v [B,T,H,V] are present, with B, H, K, V >= 1 (they define the sizes).
template <class T>
Status check_query_and_value(const char* q_name, const TensorView<const T, 4>& q,
                             const TensorView<const T, 4>& v) {
  if (is_missing(q))
    return Status::error(q_name, std::string("missing (expected shape [B,T,H,K])"));
  if (is_missing(v)) return Status::error("v", std::string("missing (expected shape [B,T,H,V])"));
  if (q.extent(0) < 1 || q.extent(1) < 0 || q.extent(2) < 1 || q.extent(3) < 1) {
    return Status::error(q_name, std::string("expected shape [B,T,H,K] with B, H, K >= 1, got ") +
                                     format_shape(q.extents()));
  }
  if (v.extent(3) < 1)
    return Status::error("v", std::string("expected V >= 1, got ") + format_shape(v.extents()));
  return {};
}

/// One recurrence's operands, with the names messages give them ("q", or "q2" in the SSE
/// operator's partition branch).
template <class Rule, class T>
struct NamedOperands {
  const char* q_name;
  TensorView<const T, 4> q;  // [B,T,H,K]
  const char* k_name;
  TensorView<const T, 4> k;  // [B,T,H,K]
  const char* g_name;
  TensorView<const T, gate_rank_v<Rule>> g;  // [B,T,H,K] (per-key decay) or [B,T,H]
  const char* beta_name;
  TensorView<const T, 3> beta;  // [B,T,H] (rules with beta), else absent
};

/// Shapes and strides of q, k, g and beta for sizes B, T, H, K.
template <class Rule, class T>
Status check_operand_shapes(const NamedOperands<Rule, T>& ops, index_t B, index_t T_, index_t H,
                            index_t K) {
  const Extents<4> qk_shape{B, T_, H, K};
  if (Status s = check_shape(ops.q_name, ops.q, "[B,T,H,K]", qk_shape); !s) return s;
  if (Status s = check_shape(ops.k_name, ops.k, "[B,T,H,K]", qk_shape); !s) return s;
  if constexpr (Rule::kPerKeyDecay) {
    if (Status s = check_shape(ops.g_name, ops.g, "[B,T,H,K]", qk_shape); !s) return s;
  } else {
    if (Status s = check_shape(ops.g_name, ops.g, "[B,T,H]", {B, T_, H}); !s) return s;
  }
  if constexpr (Rule::kHasBeta) {
    if (Status s = check_shape(ops.beta_name, ops.beta, "[B,T,H]", {B, T_, H}); !s) return s;
  } else if (ops.beta.present()) {
    return Status::error(ops.beta_name, std::string("the ") + Rule::kName + " rule takes no beta");
  }
  for (const Status& s :
       {check_unit_inner_stride(ops.q_name, ops.q), check_unit_inner_stride(ops.k_name, ops.k),
        check_unit_inner_stride(ops.g_name, ops.g),
        check_unit_inner_stride(ops.beta_name, ops.beta)}) {
    if (!s) return s;
  }
  return {};
}

/// The `key_rows` option: 0 (dense keys), or 1 <= r <= K with a rule that has per-row decay;
/// then the key tensor holds logits, which must be finite.
template <class Rule, class T>
Status check_key_rows(index_t key_rows, const char* key_name, const TensorView<T, 4>& keys) {
  if (key_rows == 0) return {};
  if constexpr (!Rule::kRowSparseKeys) {
    return Status::error("key_rows",
                         std::string("the ") + Rule::kName +
                             " rule has no row-level sparse update (it needs per-row decay: gla)");
  } else {
    const index_t K = keys.extent(3);
    if (key_rows < 0 || key_rows > K) {
      return Status::error("key_rows", std::string("expected 0 (dense keys) or 1 <= r <= K = ") +
                                           std::to_string(K) + ", got " + std::to_string(key_rows));
    }
    std::array<index_t, 4> at{};
    if (find_violation(
            keys, [](T x) { return std::isfinite(to_compute(x)); }, at)) {
      std::ostringstream message;
      message << "element " << format_shape(at) << " = " << double(to_compute(*keys.at(at)))
              << " is not a finite key logit (key_rows is on)";
      return Status::error(key_name, message.str());
    }
    return {};
  }
}

/// Values of g, k (key logits under key_rows) and beta: log decays finite and <= 0; beta in
/// [0, 1], or [0, 2] with allow_neg_eigval.
template <class Rule, class T>
Status check_operand_values(const NamedOperands<Rule, T>& ops, index_t key_rows,
                            bool allow_neg_eigval) {
  if (Status s = check_log_decays(ops.g_name, ops.g); !s) return s;
  if (Status s = check_key_rows<Rule>(key_rows, ops.k_name, ops.k); !s) return s;
  if constexpr (Rule::kHasBeta) {
    const double beta_max = allow_neg_eigval ? 2.0 : 1.0;
    const char* what = allow_neg_eigval ? "is outside [0, 2]"
                                        : "is outside [0, 1] (beta up to 2 needs allow_neg_eigval)";
    if (Status s = check_range(ops.beta_name, ops.beta, 0.0, beta_max, what); !s) return s;
  }
  return {};
}

/// The output o [B,T,H,V]: its shape, a unit inner stride, no element written twice.
template <class T>
Status check_output(const TensorView<T, 4>& o, const Extents<4>& shape) {
  if (Status s = check_shape("o", o, "[B,T,H,V]", shape); !s) return s;
  if (Status s = check_unit_inner_stride("o", o); !s) return s;
  return check_unique("o", o);
}

/// The scale option, when given, is finite.
inline Status check_scale(const std::optional<double>& scale) {
  if (scale && !std::isfinite(*scale)) {
    return Status::error("scale", std::string("must be finite, got ") + std::to_string(*scale));
  }
  return {};
}

}  // namespace sse::detail
