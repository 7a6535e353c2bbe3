#pragma once

// An SSE operator test case: owns random inputs and NaN-poisoned outputs of one shape and hands
// out the views `sse::sse_attention` takes.

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <vector>

#include "sse/attention/sse_attention.hpp"

#include "support/compare.hpp"
#include "support/random.hpp"
#include "support/scan_case.hpp"

namespace sse::test {

struct SseShape {
  index_t B = 1, T = 1, H = 1, K = 1, V = 1, N = 2;
  std::vector<std::int64_t> cu_seqlens;  // packed sequences (B = 1) when not empty

  index_t sequences() const { return cu_seqlens.empty() ? B : index_t(cu_seqlens.size()) - 1; }
  friend std::ostream& operator<<(std::ostream& os, const SseShape& s) {
    os << "B=" << s.B << " T=" << s.T << " H=" << s.H << " K=" << s.K << " V=" << s.V
       << " N=" << s.N;
    if (!s.cu_seqlens.empty()) {
      os << " cu_seqlens=";
      for (auto c : s.cu_seqlens) os << c << ' ';
    }
    return os;
  }
};

template <class Rule, class T>
struct SseCase {
  SseShape shape;
  index_t KW = 1, KR = 1;
  std::vector<T> q1, k1, q2, k2, v, g1, g2, beta1, beta2, h0;
  std::vector<float> eta;
  std::vector<std::int64_t> cu_seqlens;
  std::vector<T> o, ht;
  std::vector<float> p;
  std::vector<std::int32_t> writer_ids, reader_ids;

  SseCase(SseShape s, std::uint64_t seed, index_t writers = 1, index_t readers = 1,
          GateRange gates = {}, bool with_h0 = true)
      : shape(std::move(s)), KW(writers), KR(readers), cu_seqlens(shape.cu_seqlens) {
    const auto qk = std::size_t(shape.B * shape.T * shape.H * shape.K);
    const auto tokens = std::size_t(shape.B * shape.T * shape.H);
    const std::size_t gate_size = Rule::kPerKeyDecay ? qk : tokens;
    q1 = randn<T>(qk, seed), k1 = randn<T>(qk, seed + 1);
    q2 = randn<T>(qk, seed + 2), k2 = randn<T>(qk, seed + 3);
    v = randn<T>(tokens * shape.V, seed + 4);
    g1 = uniform<T>(gate_size, seed + 5, gates.lo, gates.hi);
    g2 = uniform<T>(gate_size, seed + 6, gates.lo, gates.hi);
    if (Rule::kHasBeta) {
      beta1 = uniform<T>(tokens, seed + 7, 0.0, 1.0);
      beta2 = uniform<T>(tokens, seed + 8, 0.0, 1.0);
      clamp_row_norms(k1, std::size_t(shape.K), 1.0);  // |k| <= 1 keeps the delta rule bounded
      clamp_row_norms(k2, std::size_t(shape.K), 1.0);
    }
    eta = randn<float>(std::size_t(shape.B * shape.T * shape.N), seed + 9, 2.0);
    if (with_h0) h0 = randn<T>(state_size(), seed + 10);
    poison();
  }

  std::size_t state_size() const {
    return std::size_t(shape.sequences() * (1 + shape.N) * shape.H * shape.K * shape.V);
  }
  std::size_t token_count() const { return std::size_t(shape.B * shape.T); }
  /// Refills every output with NaN (or -1 for indices), in place.
  void poison() {
    o.assign(std::size_t(shape.B * shape.T * shape.H * shape.V), poisoned<T>(1)[0]);
    ht.assign(state_size(), poisoned<T>(1)[0]);
    p.assign(token_count() * std::size_t(shape.N), poisoned<float>(1)[0]);
    writer_ids.assign(token_count() * std::size_t(KW), -1);
    reader_ids.assign(token_count() * std::size_t(KR), -1);
  }

  AttentionOptions options() const {
    AttentionOptions opt;
    opt.writers = KW;
    opt.readers = KR;
    return opt;
  }

  SseInputs<Rule, T> inputs() const {
    const auto& s = shape;
    SseInputs<Rule, T> in;
    in.q1 = {q1.data(), {s.B, s.T, s.H, s.K}}, in.k1 = {k1.data(), {s.B, s.T, s.H, s.K}};
    in.q2 = {q2.data(), {s.B, s.T, s.H, s.K}}, in.k2 = {k2.data(), {s.B, s.T, s.H, s.K}};
    in.v = {v.data(), {s.B, s.T, s.H, s.V}};
    if constexpr (Rule::kPerKeyDecay) {
      in.g1 = {g1.data(), {s.B, s.T, s.H, s.K}}, in.g2 = {g2.data(), {s.B, s.T, s.H, s.K}};
    } else {
      in.g1 = {g1.data(), {s.B, s.T, s.H}}, in.g2 = {g2.data(), {s.B, s.T, s.H}};
    }
    if (Rule::kHasBeta) {
      in.beta1 = {beta1.data(), {s.B, s.T, s.H}}, in.beta2 = {beta2.data(), {s.B, s.T, s.H}};
    }
    in.eta = {eta.data(), {s.B, s.T, s.N}};
    if (!h0.empty()) in.h0 = {h0.data(), {s.sequences(), 1 + s.N, s.H, s.K, s.V}};
    if (!cu_seqlens.empty()) in.cu_seqlens = {cu_seqlens.data(), {index_t(cu_seqlens.size())}};
    return in;
  }

  SseOutputs<T> outputs(bool with_routing = false) {
    const auto& s = shape;
    SseOutputs<T> out;
    out.o = {o.data(), {s.B, s.T, s.H, s.V}};
    out.ht = {ht.data(), {s.sequences(), 1 + s.N, s.H, s.K, s.V}};
    if (with_routing) {
      out.routing.p = {p.data(), {s.B, s.T, s.N}};
      out.routing.writer_ids = {writer_ids.data(), {s.B, s.T, KW}};
      out.routing.reader_ids = {reader_ids.data(), {s.B, s.T, KR}};
    }
    return out;
  }
};

}  // namespace sse::test
