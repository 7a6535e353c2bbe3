// Long sequences: float32 error stays bounded against the float64 oracle over a 100k-token
// prefill and 20k decode steps, with log decays in the usual range, exactly 0 (nothing is
// forgotten: the state only grows) and near -inf (everything is forgotten at every token, where
// a chunk's cumulative decay overflows to -inf); and a 1M-token GLA prefill stays finite.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/attention/sse_attention.hpp"
#include "sse/reference/naive_sse.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/compare.hpp"
#include "support/sse_case.hpp"

namespace sse::test {
namespace {

constexpr double kLongTolerance = 1e-4;  // the bound for 1e5 tokens in float32

struct Decays {
  const char* name;
  double lo, hi;
};
// -1e30 and the lowest float: exp underflows to 0, and sums of a few overflow to -inf.
const Decays kDecays[] = {{"usual", -0.1, 0.0},
                          {"zero", 0.0, 0.0},
                          {"minus_1e30", -1e30, -1e30},
                          {"lowest", double(std::numeric_limits<float>::lowest()),
                           double(std::numeric_limits<float>::lowest())}};

template <class Rule>
SseCase<Rule, float> long_case(index_t T, const Decays& decays, std::uint64_t seed) {
  SseCase<Rule, float> c(SseShape{1, T, 1, 16, 16, 4, {}}, seed, 1, 1,
                         GateRange{decays.lo, decays.hi});
  // The decays' extremes exactly (uniform on a zero-width range may round).
  if (decays.lo == decays.hi) {
    std::fill(c.g1.begin(), c.g1.end(), float(decays.lo));
    std::fill(c.g2.begin(), c.g2.end(), float(decays.lo));
  }
  return c;
}

template <class Rule>
void prefill_matches_reference(index_t T, Path path) {
  for (const Decays& decays : kDecays) {
    SseCase<Rule, float> c = long_case<Rule>(T, decays, 4001);
    AttentionOptions options = c.options();
    options.path = path;
    sse_attention<Rule>(c.inputs(), c.outputs(), options);
    const auto ref = reference::sse_attention<Rule>(c.inputs(), options);
    EXPECT_LT(rel_error(c.o, ref.o), kLongTolerance) << Rule::kName << " decays " << decays.name;
    EXPECT_LT(rel_error(c.ht, ref.ht), kLongTolerance) << Rule::kName << " decays " << decays.name;
  }
}

TEST(LongSequence, PrefillOf100kTokensMatchesReference) {
  prefill_matches_reference<GlaRule>(100000, Path::kSparse);
  prefill_matches_reference<GdnRule>(100000, Path::kSparse);
}

TEST(LongSequence, MaskedPrefillOf100kTokensMatchesReference) {
  prefill_matches_reference<GlaRule>(100000, Path::kMasked);
  prefill_matches_reference<GdnRule>(100000, Path::kMasked);
}

// 20k steps of T = 1, each a separate call reading and writing the state in place (views into
// the full inputs at token t), against the reference's prefill of the same tokens.
template <class Rule>
void decode_matches_reference(index_t steps) {
  for (const Decays& decays : kDecays) {
    SseCase<Rule, float> c = long_case<Rule>(steps, decays, 5003);
    const AttentionOptions options = c.options();
    const index_t H = 1, K = 16, V = 16, N = 4;
    const index_t gate_width = Rule::kPerKeyDecay ? H * K : H;
    std::vector<float> state = c.h0;
    const SseInputs<Rule> all = c.inputs();
    std::vector<std::byte> memory;
    for (index_t t = 0; t < steps; ++t) {
      SseInputs<Rule> in = all;
      in.q1 = {c.q1.data() + t * H * K, {1, 1, H, K}},
      in.k1 = {c.k1.data() + t * H * K, {1, 1, H, K}};
      in.q2 = {c.q2.data() + t * H * K, {1, 1, H, K}},
      in.k2 = {c.k2.data() + t * H * K, {1, 1, H, K}};
      in.v = {c.v.data() + t * H * V, {1, 1, H, V}};
      in.eta = {c.eta.data() + t * N, {1, 1, N}};
      if constexpr (Rule::kPerKeyDecay) {
        in.g1 = {c.g1.data() + t * gate_width, {1, 1, H, K}};
        in.g2 = {c.g2.data() + t * gate_width, {1, 1, H, K}};
      } else {
        in.g1 = {c.g1.data() + t * gate_width, {1, 1, H}};
        in.g2 = {c.g2.data() + t * gate_width, {1, 1, H}};
        in.beta1 = {c.beta1.data() + t * H, {1, 1, H}};
        in.beta2 = {c.beta2.data() + t * H, {1, 1, H}};
      }
      in.h0 = {state.data(), {1, 1 + N, H, K, V}};
      SseOutputs<float> out;
      out.o = {c.o.data() + t * H * V, {1, 1, H, V}};
      out.ht = {state.data(), {1, 1 + N, H, K, V}};
      SerialExecutor serial;
      if (memory.empty()) {
        memory.resize(sse_attention_workspace_size<Rule>(in, out, options, serial));
      }
      sse_attention<Rule>(in, out, options, serial, Workspace(memory.data(), memory.size()));
    }
    const auto ref = reference::sse_attention<Rule>(all, options);
    EXPECT_LT(rel_error(c.o, ref.o), kLongTolerance) << Rule::kName << " decays " << decays.name;
    EXPECT_LT(rel_error(state, ref.ht), kLongTolerance) << Rule::kName << " decays " << decays.name;
  }
}

TEST(LongSequence, DecodeOf20kStepsMatchesReference) {
  decode_matches_reference<GlaRule>(20000);
  decode_matches_reference<GdnRule>(20000);
}

// 2^20 tokens of GLA without decay (the state grows with every token) and with the usual
// decays: no overflow, no NaN, every output written. Inputs from a cheap hash: a 1M-token normal
// sample would cost more than the kernel.
TEST(LongSequence, MillionTokenGlaPrefillStaysFinite) {
  const index_t T = index_t(1) << 20, H = 1, K = 16, V = 16, N = 4;
  auto hashed = [](std::size_t n, std::uint64_t seed, float lo, float hi) {
    std::vector<float> out(n);
    std::uint64_t x = seed;
    for (float& e : out) {  // splitmix64
      x += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      e = lo + (hi - lo) * float((z ^ (z >> 31)) >> 40) * 0x1.0p-24f;
    }
    return out;
  };
  const auto qk = std::size_t(T * H * K);
  const std::vector<float> q1 = hashed(qk, 1, -1, 1), k1 = hashed(qk, 2, -1, 1);
  const std::vector<float> q2 = hashed(qk, 3, -1, 1), k2 = hashed(qk, 4, -1, 1);
  const std::vector<float> v = hashed(std::size_t(T * H * V), 5, -1, 1);
  const std::vector<float> eta = hashed(std::size_t(T * N), 6, -3, 3);
  for (const float decay_lo : {0.0f, -0.1f}) {
    const std::vector<float> g1 = hashed(qk, 7, decay_lo, 0), g2 = hashed(qk, 8, decay_lo, 0);
    SseInputs<GlaRule> in;
    in.q1 = {q1.data(), {1, T, H, K}}, in.k1 = {k1.data(), {1, T, H, K}};
    in.q2 = {q2.data(), {1, T, H, K}}, in.k2 = {k2.data(), {1, T, H, K}};
    in.v = {v.data(), {1, T, H, V}}, in.eta = {eta.data(), {1, T, N}};
    in.g1 = {g1.data(), {1, T, H, K}}, in.g2 = {g2.data(), {1, T, H, K}};
    std::vector<float> o = poisoned<float>(std::size_t(T * H * V));
    std::vector<float> ht = poisoned<float>(std::size_t((1 + N) * H * K * V));
    SseOutputs<float> out;
    out.o = {o.data(), {1, T, H, V}};
    out.ht = {ht.data(), {1, 1 + N, H, K, V}};
    sse_attention<GlaRule>(in, out, AttentionOptions{});
    EXPECT_TRUE(std::all_of(o.begin(), o.end(), [](float x) { return std::isfinite(x); }))
        << "decays in [" << decay_lo << ", 0]";
    EXPECT_TRUE(std::all_of(ht.begin(), ht.end(), [](float x) { return std::isfinite(x); }))
        << "decays in [" << decay_lo << ", 0]";
  }
}

}  // namespace
}  // namespace sse::test
