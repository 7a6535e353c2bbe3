// The float64 SSE oracle (reference/naive_sse.hpp) against what the spec says it must equal:
// with writers == readers, partition n is the base recurrence over only the tokens routed to it
// (DESIGN.md section 3, "sparse path"), which the scan oracle computes independently; and the
// mask rules of writers != readers, token by token.

#include "sse/reference/naive_sse.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "sse/reference/naive_rules.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/compare.hpp"
#include "support/random.hpp"

namespace sse::test {
namespace {

/// Random inputs of one SSE call (B = 1), owning their buffers.
template <class Rule>
struct SseCase {
  index_t T, H, K, V, N;
  std::vector<double> q1, k1, q2, k2, v, g1, g2, beta1, beta2, h0;
  std::vector<float> eta;

  SseCase(index_t t, index_t h, index_t k, index_t v_dim, index_t n, std::uint64_t seed)
      : T(t), H(h), K(k), V(v_dim), N(n) {
    const auto qk = std::size_t(T * H * K), tokens = std::size_t(T * H);
    const std::size_t gates = Rule::kPerKeyDecay ? qk : tokens;
    q1 = randn<double>(qk, seed), k1 = randn<double>(qk, seed + 1);
    q2 = randn<double>(qk, seed + 2), k2 = randn<double>(qk, seed + 3);
    v = randn<double>(tokens * V, seed + 4);
    g1 = uniform<double>(gates, seed + 5, -2.0, 0.0),
    g2 = uniform<double>(gates, seed + 6, -2.0, 0.0);
    beta1 = uniform<double>(tokens, seed + 7, 0.0, 1.0);
    beta2 = uniform<double>(tokens, seed + 8, 0.0, 1.0);
    h0 = randn<double>(std::size_t((1 + N) * H * K * V), seed + 9);
    eta = randn<float>(std::size_t(T * N), seed + 10, 2.0);
    if (Rule::kHasBeta) {  // keys with |k| <= 1 for runs without qk_l2norm
      clamp_row_norms(k1, std::size_t(K), 1.0);
      clamp_row_norms(k2, std::size_t(K), 1.0);
    }
  }

  template <std::size_t R>
  static TensorView<const double, R> view(const std::vector<double>& x, Extents<R> e) {
    return {x.data(), e};
  }
  SseInputs<Rule, double> inputs() const {
    SseInputs<Rule, double> in;
    in.q1 = view<4>(q1, {1, T, H, K}), in.k1 = view<4>(k1, {1, T, H, K});
    in.q2 = view<4>(q2, {1, T, H, K}), in.k2 = view<4>(k2, {1, T, H, K});
    in.v = view<4>(v, {1, T, H, V});
    if constexpr (Rule::kPerKeyDecay) {
      in.g1 = view<4>(g1, {1, T, H, K}), in.g2 = view<4>(g2, {1, T, H, K});
    } else {
      in.g1 = view<3>(g1, {1, T, H}), in.g2 = view<3>(g2, {1, T, H});
      in.beta1 = view<3>(beta1, {1, T, H}), in.beta2 = view<3>(beta2, {1, T, H});
    }
    in.eta = {eta.data(), {1, T, N}};
    in.h0 = {h0.data(), {1, 1 + N, H, K, V}};
    return in;
  }
};

template <class Rule>
class NaiveSseTest : public ::testing::Test {};
using Rules = ::testing::Types<GlaRule, GdnRule>;
TYPED_TEST_SUITE(NaiveSseTest, Rules);

// With writers == readers, o = scan(shared branch) + sum over partitions of scan(partition n
// over the tokens routed to it, with q2 * p_n and k2 * p_n), and ht likewise.
TYPED_TEST(NaiveSseTest, PartitionsAreScansOverTheirRoutedTokens) {
  using Rule = TypeParam;
  const index_t T = 37, H = 2, K = 6, V = 5, N = 4;
  for (index_t kk : {index_t(1), index_t(2), N}) {
    for (bool emul : {true, false}) {
      for (bool l2norm : {false, true}) {
        SseCase<Rule> c(T, H, K, V, N, 1000 + std::uint64_t(kk) * 10 + emul * 2 + l2norm);
        AttentionOptions opt;
        opt.writers = opt.readers = kk;
        opt.emulq = opt.emulk = emul;
        opt.qk_l2norm = l2norm;
        const auto ref = reference::sse_attention<Rule>(c.inputs(), opt);
        ScanOptions scan_opt;
        scan_opt.qk_l2norm = l2norm;

        // Shared branch over every token.
        ScanInputs<Rule, double> shared;
        const auto in = c.inputs();
        shared.q = in.q1, shared.k = in.k1, shared.v = in.v, shared.g = in.g1,
        shared.beta = in.beta1;
        std::vector<double> h0_shared(c.h0.begin(), c.h0.begin() + H * K * V);
        shared.h0 = {h0_shared.data(), {1, H, K, V}};
        const auto shared_ref = reference::scan<Rule>(shared, scan_opt);
        std::vector<double> expected_o = shared_ref.o;
        std::vector<double> expected_ht = shared_ref.ht;

        for (index_t n = 1; n <= N; ++n) {
          std::vector<index_t> tokens;  // the tokens that write (and read) partition n
          for (index_t t = 0; t < T; ++t) {
            for (index_t i = 0; i < kk; ++i) {
              if (ref.writer_ids[t * kk + i] == n - 1) tokens.push_back(t);
            }
          }
          const auto L = index_t(tokens.size());
          const index_t gw = Rule::kPerKeyDecay ? K : 1;
          std::vector<double> q(L * H * K), k(L * H * K), v(L * H * V), g(L * H * gw), beta(L * H);
          for (index_t i = 0; i < L; ++i) {
            const index_t t = tokens[i];
            const double p = emul ? double(ref.p[t * N + (n - 1)]) : 1.0;
            for (index_t x = 0; x < H * K; ++x) q[i * H * K + x] = c.q2[t * H * K + x] * p;
            for (index_t x = 0; x < H * K; ++x) k[i * H * K + x] = c.k2[t * H * K + x] * p;
            for (index_t x = 0; x < H * V; ++x) v[i * H * V + x] = c.v[t * H * V + x];
            for (index_t x = 0; x < H * gw; ++x) g[i * H * gw + x] = c.g2[t * H * gw + x];
            for (index_t x = 0; x < H; ++x) beta[i * H + x] = c.beta2[t * H + x];
          }
          std::vector<double> h0_n(c.h0.begin() + n * H * K * V,
                                   c.h0.begin() + (n + 1) * H * K * V);
          ScanInputs<Rule, double> part;
          part.q = {q.data(), {1, L, H, K}}, part.k = {k.data(), {1, L, H, K}};
          part.v = {v.data(), {1, L, H, V}};
          if constexpr (Rule::kPerKeyDecay) {
            part.g = {g.data(), {1, L, H, K}};
          } else {
            part.g = {g.data(), {1, L, H}};
            part.beta = {beta.data(), {1, L, H}};
          }
          part.h0 = {h0_n.data(), {1, H, K, V}};
          const auto part_ref = reference::scan<Rule>(part, scan_opt);
          for (index_t i = 0; i < L; ++i) {
            for (index_t x = 0; x < H * V; ++x)
              expected_o[tokens[i] * H * V + x] += part_ref.o[i * H * V + x];
          }
          expected_ht.insert(expected_ht.end(), part_ref.ht.begin(), part_ref.ht.end());
        }
        EXPECT_LT(rel_error(ref.o, expected_o), 1e-12)
            << "k=" << kk << " emul=" << emul << " l2=" << l2norm;
        EXPECT_LT(rel_error(ref.ht, expected_ht), 1e-12)
            << "k=" << kk << " emul=" << emul << " l2=" << l2norm;
      }
    }
  }
}

// A partition whose logit is -inf at every token is never chosen while k is below the number
// of finite logits: its state keeps h0 bit for bit.
TYPED_TEST(NaiveSseTest, NeverChosenPartitionKeepsItsState) {
  using Rule = TypeParam;
  const index_t T = 20, H = 2, K = 4, V = 3, N = 4;
  SseCase<Rule> c(T, H, K, V, N, 77);
  for (index_t t = 0; t < T; ++t) c.eta[t * N + 2] = -std::numeric_limits<float>::infinity();
  AttentionOptions opt;
  opt.writers = opt.readers = 3;
  const auto ref = reference::sse_attention<Rule>(c.inputs(), opt);
  const std::size_t block = std::size_t(H * K * V);
  for (std::size_t i = 0; i < block; ++i) EXPECT_EQ(ref.ht[3 * block + i], c.h0[3 * block + i]);
}

// writers != readers, one token, N = 3: the partition chosen by only one of the two sets.
// GLA: write, decay and v follow W; the read follows R. GDN: k follows W, but g2 and beta2
// follow R, so read-not-written decays and written-not-read is not updated at all.
TYPED_TEST(NaiveSseTest, MaskRulesWhenWritersDifferFromReaders) {
  using Rule = TypeParam;
  const index_t H = 1, K = 3, V = 2, N = 3;
  SseCase<Rule> c(1, H, K, V, N, 91);
  c.eta = {2.0f, 1.0f, -1.0f};  // ranking: partition 0, then 1, then 2
  const std::size_t block = std::size_t(K * V);

  AttentionOptions read_more;  // W = {0}, R = {0, 1}: partition 1 (state 2) read, not written
  read_more.writers = 1, read_more.readers = 2;
  const auto a = reference::sse_attention<Rule>(c.inputs(), read_more);
  for (std::size_t i = 0; i < block; ++i) {
    const double h = c.h0[2 * block + i];
    if (Rule::kHasBeta) {
      EXPECT_NEAR(a.ht[2 * block + i], std::exp(c.g2[0]) * h, 1e-15) << "GDN: decays";
    } else {
      EXPECT_EQ(a.ht[2 * block + i], h) << "GLA: frozen";
    }
  }

  AttentionOptions write_more;  // W = {0, 1}, R = {0}: partition 1 (state 2) written, not read
  write_more.writers = 2, write_more.readers = 1;
  const auto b = reference::sse_attention<Rule>(c.inputs(), write_more);
  for (index_t i = 0; i < K; ++i) {
    for (index_t j = 0; j < V; ++j) {
      const double h = c.h0[2 * block + i * V + j];
      const double p = b.p[1];
      if (Rule::kHasBeta) {
        EXPECT_EQ(b.ht[2 * block + i * V + j], h) << "GDN: not updated at all";
      } else {
        const double expected = std::exp(c.g2[i]) * h + c.k2[i] * p * c.v[j];
        EXPECT_NEAR(b.ht[2 * block + i * V + j], expected, 1e-14) << "GLA: written";
      }
    }
  }
}

}  // namespace
}  // namespace sse::test
