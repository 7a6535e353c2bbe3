#pragma once

/// \file
/// The float64 oracle of the SSE operator in its masked formulation (DESIGN.md section 3), one
/// loop per equation, token by token. Every partition sees every token; an unselected one gets
/// zero key (and, by the rule's mask, zero log decay or beta), so it is frozen. Inputs are
/// assumed valid.
///
/// Per token t of sequence s, head h:
///   p = softmax(eta_t) (float32), W = top-k_w(p), R = top-k_r(p), ties to the lower index
///   shared:       the base recurrence on (scale q1, k1, v, g1[, beta1])
///   partition n:  k = k2 * p_n (emulk) if n in W else 0
///                 q = q2 * p_n (emulq) if n in R else 0
///                 GLA: g = g2 if n in W else 0
///                 GDN: g = g2, beta = beta2 if n in R else 0
///                 (qk_l2norm normalises q and k after the p_n scaling)
///   o_t = o_shared + sum_n o_n      (p is not renormalised)
/// With key_rows = r (DESIGN.md section 2b), k1 and k2 are key logits: each branch's key is the
/// softmax over its top-r rows and its g is masked to them, before the partition masks.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sse/attention/inputs.hpp"
#include "sse/attention/options.hpp"
#include "sse/core/sequences.hpp"
#include "sse/reference/naive_rules.hpp"
#include "sse/router/softmax.hpp"
#include "sse/router/top_k.hpp"

namespace sse::reference {

/// o [B,T,H,V], ht [S,1+N,H,K,V] (sequence order, also when h0 is a pool read through
/// state_slots) and the routing used: p [B,T,N], writer and reader ids
/// [B,T,KW] and [B,T,KR]; C order.
struct SseResult {
  std::vector<double> o;
  std::vector<double> ht;
  std::vector<float> p;
  std::vector<std::int32_t> writer_ids;
  std::vector<std::int32_t> reader_ids;
};

template <class Rule, class T>
SseResult sse_attention(const SseInputs<Rule, T>& in, const AttentionOptions& options = {}) {
  const index_t B = in.q1.extent(0), Tn = in.q1.extent(1), H = in.q1.extent(2);
  const index_t K = in.q1.extent(3), V = in.v.extent(3), N = in.eta.extent(2);
  const index_t KW = options.writers, KR = options.readers;
  const Sequences sequences(B, Tn, in.cu_seqlens);
  const index_t S = sequences.count();
  const bool qk_l2norm = options.qk_l2norm.value_or(Rule::kDefaultQkL2norm);
  const double scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(K)));
  const index_t gate_width = Rule::kPerKeyDecay ? K : 1;
  const std::size_t state_size = static_cast<std::size_t>(K * V);

  SseResult r;
  r.o.assign(static_cast<std::size_t>(B * Tn * H * V), 0.0);
  r.ht.assign(static_cast<std::size_t>(S * (1 + N) * H) * state_size, 0.0);
  r.p.assign(static_cast<std::size_t>(B * Tn * N), 0.0f);
  r.writer_ids.assign(static_cast<std::size_t>(B * Tn * KW), 0);
  r.reader_ids.assign(static_cast<std::size_t>(B * Tn * KR), 0);

  // Routing, once per token for all heads.
  for (index_t b = 0; b < B; ++b) {
    for (index_t t = 0; t < Tn; ++t) {
      const std::size_t row = static_cast<std::size_t>(b * Tn + t);
      softmax_row(in.eta.at(b, t), r.p.data() + row * N, static_cast<std::size_t>(N));
      top_k_row(r.p.data() + row * N, static_cast<std::size_t>(N), static_cast<std::size_t>(KW),
                r.writer_ids.data() + row * KW);
      top_k_row(r.p.data() + row * N, static_cast<std::size_t>(N), static_cast<std::size_t>(KR),
                r.reader_ids.data() + row * KR);
    }
  }
  auto selected = [](const std::int32_t* ids, index_t k, index_t partition) {
    for (index_t i = 0; i < k; ++i) {
      if (ids[i] == partition) return true;
    }
    return false;
  };

  std::vector<double> q(K), k(K), v(V), g(gate_width), o(V);
  for (index_t s = 0; s < S; ++s) {
    const SequenceSpan span = sequences[s];
    const index_t slot = in.state_slots.present() ? in.state_slots(s) : s;  // h0 row
    for (index_t h = 0; h < H; ++h) {
      for (index_t n = 0; n <= N; ++n) {  // state n: 0 shared, 1..N partitions
        State state{K, V, std::vector<double>(state_size, 0.0)};
        if (in.h0.present()) {
          for (index_t i = 0; i < K; ++i) {
            for (index_t j = 0; j < V; ++j) state(i, j) = in.h0(slot, n, h, i, j);
          }
        }
        for (index_t t = span.begin; t < span.end; ++t) {
          const index_t b = span.batch;
          const std::size_t row = static_cast<std::size_t>(b * Tn + t);
          const auto& qv = n == 0 ? in.q1 : in.q2;
          const auto& kv = n == 0 ? in.k1 : in.k2;
          const auto& gv = n == 0 ? in.g1 : in.g2;
          const auto& betav = n == 0 ? in.beta1 : in.beta2;
          for (index_t i = 0; i < K; ++i) q[i] = qv(b, t, h, i);
          for (index_t i = 0; i < K; ++i) k[i] = kv(b, t, h, i);
          for (index_t j = 0; j < V; ++j) v[j] = in.v(b, t, h, j);
          for (index_t i = 0; i < gate_width; ++i) g[i] = gv.at(b, t, h)[i];
          double beta = betav.present() ? static_cast<double>(betav(b, t, h)) : 0.0;
          row_sparse_key(k, g, options.key_rows);  // DESIGN.md section 2b (0: dense keys)

          if (n > 0) {  // the partition's masks (DESIGN.md section 3)
            const double p = r.p[row * N + (n - 1)];
            const bool written = selected(r.writer_ids.data() + row * KW, KW, n - 1);
            const bool read = selected(r.reader_ids.data() + row * KR, KR, n - 1);
            for (double& e : k) e = written ? e * (options.emulk ? p : 1.0) : 0.0;
            for (double& e : q) e = read ? e * (options.emulq ? p : 1.0) : 0.0;
            const bool decays = Rule::kDecayFollowsReaders ? read : written;
            for (double& e : g) e = decays ? e : 0.0;
            beta = read ? beta : 0.0;
          }
          if (qk_l2norm) {
            l2_normalize(q);
            l2_normalize(k);
          }
          for (double& e : q) e *= scale;
          step(Rule{}, state, q, k, v, g, beta, o);
          for (index_t j = 0; j < V; ++j) r.o[((b * Tn + t) * H + h) * V + j] += o[j];
        }
        const std::size_t block = static_cast<std::size_t>((s * (1 + N) + n) * H + h);
        for (std::size_t i = 0; i < state_size; ++i) r.ht[block * state_size + i] = state.s[i];
      }
    }
  }
  return r;
}

}  // namespace sse::reference
