// sse_verify + sse_commit against decoding one token per call: for every kept count m the
// verify's outputs and the committed pool are bit for bit what m decode steps give, on both
// paths, both rules, batched and packed sequences of different lengths with different m, and
// with 1 or 2 threads. Bad verifies and commits throw one-line errors and change nothing.

#include "sse/attention/sse_speculative.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/core/parallel.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/compare.hpp"
#include "support/sse_case.hpp"

namespace sse::test {
namespace {

/// Token (b, t) of a [B,T,...] view as a [1,1,...] view.
template <class View>
View token_view(const View& x, index_t b, index_t t) {
  if (!x.present()) return x;
  auto extents = x.extents();
  extents[0] = extents[1] = 1;
  return View(x.at(b, t), extents, x.strides());
}

template <class Rule>
SseInputs<Rule, float> token_inputs(const SseInputs<Rule, float>& in, index_t b, index_t t) {
  SseInputs<Rule, float> one = in;
  one.q1 = token_view(in.q1, b, t), one.k1 = token_view(in.k1, b, t);
  one.q2 = token_view(in.q2, b, t), one.k2 = token_view(in.k2, b, t);
  one.v = token_view(in.v, b, t), one.g1 = token_view(in.g1, b, t);
  one.g2 = token_view(in.g2, b, t), one.eta = token_view(in.eta, b, t);
  one.beta1 = token_view(in.beta1, b, t), one.beta2 = token_view(in.beta2, b, t);
  one.cu_seqlens = {};
  return one;
}

/// What decoding every sequence one token per call gives: each token's output rows, and each
/// sequence's states after each count of its tokens.
struct Stepped {
  std::vector<float> o;                               // [B,T,H,V]
  std::vector<std::vector<std::vector<float>>> pool;  // [s][m] its (1+N,H,K,V) states after m
};

template <class Rule>
Stepped decode_step_by_step(SseCase<Rule, float>& c, const AttentionOptions& options) {
  const SseShape& sh = c.shape;
  const auto slot_size = std::size_t((1 + sh.N) * sh.H * sh.K * sh.V);
  std::vector<float> states = c.h0;
  Stepped r;
  r.o = poisoned<float>(c.o.size());
  const SseInputs<Rule, float> in = c.inputs();
  SerialExecutor serial;
  for (index_t s = 0; s < sh.sequences(); ++s) {
    const index_t b = sh.cu_seqlens.empty() ? s : 0;
    const index_t begin = sh.cu_seqlens.empty() ? 0 : sh.cu_seqlens[std::size_t(s)];
    const index_t end = sh.cu_seqlens.empty() ? sh.T : sh.cu_seqlens[std::size_t(s + 1)];
    auto slot_states = [&] {
      const auto first = states.begin() + std::ptrdiff_t(std::size_t(s) * slot_size);
      return std::vector<float>(first, first + std::ptrdiff_t(slot_size));
    };
    r.pool.push_back({slot_states()});
    const std::int64_t slot = s;
    for (index_t t = begin; t < end; ++t) {
      SseInputs<Rule, float> one = token_inputs(in, b, t);
      one.h0 = {states.data(), {sh.sequences(), 1 + sh.N, sh.H, sh.K, sh.V}};
      one.state_slots = {&slot, {1}};
      SseOutputs<float> out;
      out.o = {r.o.data() + (b * sh.T + t) * sh.H * sh.V, {1, 1, sh.H, sh.V}};
      out.ht = {states.data(), {sh.sequences(), 1 + sh.N, sh.H, sh.K, sh.V}};
      sse_attention<Rule>(one, out, options, serial);
      r.pool.back().push_back(slot_states());
    }
  }
  return r;
}

/// The tokens of each sequence.
std::vector<index_t> lengths_of(const SseShape& sh) {
  std::vector<index_t> F;
  for (index_t s = 0; s < sh.sequences(); ++s) {
    F.push_back(sh.cu_seqlens.empty()
                    ? sh.T
                    : index_t(sh.cu_seqlens[std::size_t(s + 1)] - sh.cu_seqlens[std::size_t(s)]));
  }
  return F;
}

/// Verify + commit from c.h0 for each kept-count pattern, against the stepped decode.
template <class Rule>
void check_verify_commit(const SseShape& shape, index_t KW, index_t KR, Path path,
                         std::uint64_t seed, Executor& executor) {
  SCOPED_TRACE(::testing::Message() << Rule::kName << ' ' << shape << " KW=" << KW << " KR=" << KR
                                    << (path == Path::kMasked ? " masked" : " sparse"));
  SseCase<Rule, float> c(shape, seed, KW, KR);
  AttentionOptions options = c.options();
  options.path = path;
  const Stepped stepped = decode_step_by_step(c, options);
  const std::vector<index_t> F = lengths_of(shape);
  const index_t S = shape.sequences();
  const index_t longest = *std::max_element(F.begin(), F.end());

  std::vector<std::vector<index_t>> patterns;
  for (index_t m = 1; m <= longest; ++m) {  // the same m everywhere (clipped), then mixed
    std::vector<index_t> kept;
    for (index_t f : F) kept.push_back(std::min(m, f));
    patterns.push_back(kept);
  }
  std::vector<index_t> mixed;
  for (index_t s = 0; s < S; ++s)
    mixed.push_back(F[std::size_t(s)] == 0 ? 0 : 1 + (s * 3 + 1) % F[std::size_t(s)]);
  patterns.push_back(mixed);

  const auto slot_size = std::size_t((1 + shape.N) * shape.H * shape.K * shape.V);
  for (const std::vector<index_t>& kept : patterns) {
    for (std::size_t s = 0; s < kept.size(); ++s) {
      if (F[s] > 0 && kept[s] == 0) ADD_FAILURE() << "bad pattern";
    }
    std::vector<float> pool = c.h0;
    c.poison();
    SseInputs<Rule, float> in = c.inputs();
    in.h0 = {pool.data(), {S, 1 + shape.N, shape.H, shape.K, shape.V}};
    SseOutputs<float> out = c.outputs();
    out.ht = {pool.data(), {S, 1 + shape.N, shape.H, shape.K, shape.V}};
    std::vector<std::byte> memory(rollback_bytes(in, options));
    Rollback rollback(memory.data(), memory.size());
    sse_verify<Rule>(in, out, options, executor, rollback);
    ASSERT_TRUE(rollback.pending());
    EXPECT_TRUE(same_bits(c.o, stepped.o)) << "verify outputs";

    sse_commit<Rule>(in, {kept.data(), {S}}, out.ht, options, executor, rollback);
    EXPECT_FALSE(rollback.pending());
    for (index_t s = 0; s < S; ++s) {
      const auto first = pool.begin() + std::ptrdiff_t(std::size_t(s) * slot_size);
      const std::vector<float> states(first, first + std::ptrdiff_t(slot_size));
      EXPECT_TRUE(
          same_bits(states, stepped.pool[std::size_t(s)][std::size_t(kept[std::size_t(s)])]))
          << "sequence " << s << " keeps " << kept[std::size_t(s)] << " of " << F[std::size_t(s)];
    }
  }
}

template <class Rule>
void check_shapes(Executor& executor) {
  std::uint64_t seed = 100;
  // Batched, every sequence F = 5 (the last accepted token and 4 drafts), N = 4, k = 1.
  check_verify_commit<Rule>({2, 5, 2, 8, 16, 4, {}}, 1, 1, Path::kSparse, ++seed, executor);
  // K past the 16-row block and V with a strip, a batch and a scalar tail; more drafts than
  // one pass of kStepTokens takes.
  check_verify_commit<Rule>({1, 11, 1, 40, 70, 3, {}}, 1, 1, Path::kSparse, ++seed, executor);
  // Packed sequences of 3, 0, 5 and 1 tokens; two partitions per token.
  check_verify_commit<Rule>({1, 9, 2, 16, 33, 4, {0, 3, 3, 8, 9}}, 2, 2, Path::kSparse, ++seed,
                            executor);
  // The masked path, writers != readers.
  check_verify_commit<Rule>({2, 4, 2, 8, 24, 3, {}}, 1, 2, Path::kMasked, ++seed, executor);
  // One token: nothing to draft, the commit keeps it.
  check_verify_commit<Rule>({2, 1, 1, 8, 8, 2, {}}, 1, 1, Path::kSparse, ++seed, executor);
}

TEST(SseSpeculative, VerifyAndCommitEqualDecodingStepByStep) {
  SerialExecutor serial;
  check_shapes<GlaRule>(serial);
  check_shapes<GdnRule>(serial);
}

TEST(SseSpeculative, TwoThreadsGiveTheSameBits) {
  ThreadPool pool(2);
  check_shapes<GlaRule>(pool);
  check_shapes<GdnRule>(pool);
}

/// A verified case, ready for commits.
struct Verified {
  SseCase<GlaRule, float> c{{2, 4, 2, 8, 16, 3, {}}, 7};
  std::vector<float> pool = c.h0;
  SseInputs<GlaRule, float> in;
  SseOutputs<float> out;
  AttentionOptions options = c.options();
  std::vector<std::byte> memory;
  Rollback rollback;
  SerialExecutor serial;

  Verified() {
    in = c.inputs();
    in.h0 = {pool.data(), {2, 4, 2, 8, 16}};
    out = c.outputs();
    out.ht = {pool.data(), {2, 4, 2, 8, 16}};
    memory.resize(rollback_bytes(in, options));
    rollback = Rollback(memory.data(), memory.size());
  }
};

std::string commit_error(Verified& v, std::vector<index_t> kept) {
  try {
    sse_commit<GlaRule>(v.in, {kept.data(), {index_t(kept.size())}}, v.out.ht, v.options, v.serial,
                        v.rollback);
  } catch (const invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(SseSpeculative, BadCommitsAreOneLineErrorsAndChangeNothing) {
  Verified v;
  EXPECT_NE(commit_error(v, {1, 1}).find("no verify awaits a commit"), std::string::npos);
  EXPECT_EQ(v.pool, v.c.h0);

  sse_verify<GlaRule>(v.in, v.out, v.options, v.serial, v.rollback);
  const std::vector<float> verified = v.pool;
  for (const auto& [kept, expected] : std::vector<std::pair<std::vector<index_t>, std::string>>{
           {{0, 2}, "sequence 0 keeps 0 of its 4 verified tokens; expected 1 to 4"},
           {{2, 5}, "sequence 1 keeps 5 of its 4 verified tokens"},
           {{-1, 1}, "keeps -1"},
           {{1, 1, 1}, "expected shape [S] = [2], got [3]"}}) {
    const std::string message = commit_error(v, kept);
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
    EXPECT_TRUE(same_bits(v.pool, verified));
    EXPECT_TRUE(v.rollback.pending());
  }
  // Other inputs than the verify's.
  AttentionOptions masked = v.options;
  masked.path = Path::kMasked;
  std::vector<index_t> kept{1, 1};
  try {
    sse_commit<GlaRule>(v.in, {kept.data(), {2}}, v.out.ht, masked, v.serial, v.rollback);
    ADD_FAILURE() << "no exception";
  } catch (const invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("differ from the verify's"), std::string::npos);
  }
  EXPECT_TRUE(same_bits(v.pool, verified));
  // Then a good commit still works.
  EXPECT_EQ(commit_error(v, {2, 1}), "");
  EXPECT_FALSE(v.rollback.pending());
}

TEST(SseSpeculative, BadVerifiesThrowAndChangeNothing) {
  {  // ht beside h0 (not in place)
    Verified v;
    std::vector<float> ht(v.pool.size(), 0.5f);
    v.out.ht = {ht.data(), {2, 4, 2, 8, 16}};
    EXPECT_THROW(sse_verify<GlaRule>(v.in, v.out, v.options, v.serial, v.rollback),
                 invalid_argument);
    EXPECT_EQ(v.pool, v.c.h0);
    EXPECT_TRUE(std::all_of(ht.begin(), ht.end(), [](float x) { return x == 0.5f; }));
    EXPECT_TRUE(std::all_of(v.c.o.begin(), v.c.o.end(), [](float x) { return std::isnan(x); }));
    EXPECT_FALSE(v.rollback.pending());
  }
  {  // a rollback too small
    Verified v;
    Rollback small(v.memory.data(), v.memory.size() - 1);
    const Status status = validate_sse_verify(v.in, v.out, v.options, small);
    EXPECT_FALSE(status.ok());
    try {
      sse_verify<GlaRule>(v.in, v.out, v.options, v.serial, small);
      ADD_FAILURE() << "no exception";
    } catch (const invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("rollback_bytes"), std::string::npos) << e.what();
      EXPECT_EQ(status.message(), e.what());
    }
    EXPECT_EQ(v.pool, v.c.h0);
    EXPECT_FALSE(small.pending());
  }
  {  // a bad input of the operator itself (a wrong v shape)
    Verified v;
    v.in.v = {v.c.v.data(), {2, 4, 2, 15}};
    EXPECT_THROW(sse_verify<GlaRule>(v.in, v.out, v.options, v.serial, v.rollback),
                 invalid_argument);
    EXPECT_EQ(v.pool, v.c.h0);
    EXPECT_FALSE(v.rollback.pending());
  }
}

}  // namespace
}  // namespace sse::test
