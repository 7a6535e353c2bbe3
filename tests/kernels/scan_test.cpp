// sse::scan (kernels/scan.hpp with the recurrent and chunked kernels and both rules) against
// the float64 oracle, and the equivalences the math guarantees.

#include "sse/kernels/scan.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/reference/naive_rules.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/compare.hpp"
#include "support/configs.hpp"
#include "support/scan_case.hpp"

namespace sse::test {
namespace {

template <class C>
class ScanTest : public ::testing::Test {
 protected:
  static ScanOptions options(Mode mode) {
    ScanOptions opt;
    opt.mode = mode;
    opt.qk_l2norm = false;  // GDN keys are drawn with |k| <= 1 instead (DESIGN.md section 1)
    return opt;
  }

  /// Runs `c` with `opt` and returns relative errors of o and ht against `ref`.
  static std::pair<double, double> errors(ScanCase<typename C::Rule, typename C::Type>& c,
                                          const ScanOptions& opt,
                                          const reference::ScanResult& ref) {
    c.poison();
    scan<typename C::Rule>(c.inputs(), c.outputs(), opt);
    return {rel_error(c.o, ref.o), rel_error(c.ht, ref.ht)};
  }

  /// Both forms (chunked and recurrent) of `c` under `opt` match `ref` within `tol`.
  static void expect_both_forms_match(ScanCase<typename C::Rule, typename C::Type>& c,
                                      ScanOptions opt, const reference::ScanResult& ref, double tol,
                                      const std::string& label) {
    for (Mode mode : {Mode::kChunk, Mode::kRecurrent}) {
      opt.mode = mode;
      const auto [o_err, ht_err] = errors(c, opt, ref);
      EXPECT_LT(o_err, tol) << label << " mode " << int(mode);
      EXPECT_LT(ht_err, tol) << label << " mode " << int(mode);
    }
  }
};

using Configs = ::testing::Types<Config<GlaRule, float>, Config<GlaRule, double>,
                                 Config<GdnRule, float>, Config<GdnRule, double>>;
TYPED_TEST_SUITE(ScanTest, Configs, ConfigNames);

constexpr index_t kC = DefaultChunked::kChunkSize;

// chunked == recurrent == float64 reference over T in {1, C-1, C, C+1, 3C+5, 1000} and
// K, V in {1, 7, 16, 32, 64, 128, 129}, with B and H varying across the grid.
TYPED_TEST(ScanTest, GridMatchesReference) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  const index_t lengths[] = {1, kC - 1, kC, kC + 1, 3 * kC + 5, 1000};
  const index_t widths[] = {1, 7, 16, 32, 64, 128, 129};
  std::uint64_t seed = 1;
  for (index_t t : lengths) {
    for (index_t k : widths) {
      for (index_t v : widths) {
        const index_t b = 1 + index_t(seed % 2);
        const index_t h = t >= 1000 ? 1 : 1 + index_t(seed % 3);
        // Fast decays (GLA's per-entry exponents) and slow ones (its factored diagonal
        // blocks) alternate across the grid.
        const GateRange gates = (seed / 7) % 2 ? GateRange{-0.1, 0.0} : GateRange{-3.0, 0.0};
        Case c(ScanShape{b, t, h, k, v, {}}, seed, gates);
        const auto opt_r = TestFixture::options(Mode::kRecurrent);
        const auto ref = reference::scan<Rule>(c.inputs(), opt_r);
        const auto [o_rec, ht_rec] = TestFixture::errors(c, opt_r, ref);
        const std::vector<T> o_recurrent = c.o;
        const auto [o_chk, ht_chk] =
            TestFixture::errors(c, TestFixture::options(Mode::kChunk), ref);
        const double tol = tolerance<T>();
        EXPECT_LT(o_rec, tol) << c.shape << " seed=" << seed << " recurrent o";
        EXPECT_LT(ht_rec, tol) << c.shape << " seed=" << seed << " recurrent ht";
        EXPECT_LT(o_chk, tol) << c.shape << " seed=" << seed << " chunked o";
        EXPECT_LT(ht_chk, tol) << c.shape << " seed=" << seed << " chunked ht";
        EXPECT_LT(rel_error(c.o, o_recurrent), tol) << c.shape << " chunked vs recurrent";
        seed += 7;
      }
    }
  }
}

// Running tokens [0, t) and then [t, T) from the returned state equals one run over [0, T),
// for t inside a chunk and on a chunk boundary.
TYPED_TEST(ScanTest, SplitInvariance) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  const ScanShape shape{2, 3 * kC + 5, 2, 19, 24, {}};
  for (Mode mode : {Mode::kChunk, Mode::kRecurrent, Mode::kAuto}) {
    for (index_t split : {index_t(1), index_t(37), kC, 2 * kC, 3 * kC + 4}) {
      Case whole(shape, 11);
      const auto opt = TestFixture::options(mode);
      scan<Rule>(whole.inputs(), whole.outputs(), opt);

      // The two halves as strided views into the same inputs: tokens [0, split), [split, T).
      Case part(shape, 11);
      auto in = part.inputs();
      auto out = part.outputs();
      auto first_in = in, second_in = in;
      auto first_out = out, second_out = out;
      auto head = [&](auto view, index_t t0, index_t len) {
        auto extents = view.extents();
        extents[1] = len;
        return decltype(view)(view.at(0, t0), extents, view.strides());
      };
      first_in.q = head(in.q, 0, split), second_in.q = head(in.q, split, shape.T - split);
      first_in.k = head(in.k, 0, split), second_in.k = head(in.k, split, shape.T - split);
      first_in.v = head(in.v, 0, split), second_in.v = head(in.v, split, shape.T - split);
      first_in.g = head(in.g, 0, split), second_in.g = head(in.g, split, shape.T - split);
      if (in.beta.present()) {
        first_in.beta = head(in.beta, 0, split);
        second_in.beta = head(in.beta, split, shape.T - split);
      }
      first_out.o = head(out.o, 0, split), second_out.o = head(out.o, split, shape.T - split);
      std::vector<T> middle = poisoned<T>(part.state_size());
      first_out.ht = {middle.data(), out.ht.extents()};
      second_in.h0 = first_out.ht;
      scan<Rule>(first_in, first_out, opt);
      scan<Rule>(second_in, second_out, opt);

      EXPECT_LT(rel_error(part.o, whole.o), tolerance<T>()) << "split=" << split;
      EXPECT_LT(rel_error(part.ht, whole.ht), tolerance<T>()) << "split=" << split;
    }
  }
}

// Log decays of -30 and 0 mixed, over T = 20000: finite, within 1e-4 of the oracle
// (DESIGN.md section 1: exponents restart at sub-blocks and factor through block boundaries).
TYPED_TEST(ScanTest, ExtremeDecaysOverLongSequences) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  Case c(ScanShape{1, 20000, 1, 24, 20, {}}, 21, GateRange{-1.0, 0.0});
  const auto pick = uniform<double>(c.g.size(), 99, 0.0, 1.0);
  for (std::size_t i = 0; i < c.g.size(); ++i) {
    if (pick[i] < 0.4) {
      c.g[i] = -30;  // forget at once
    } else if (pick[i] < 0.8) {
      c.g[i] = 0;  // keep exactly
    }
  }
  const auto ref = reference::scan<Rule>(c.inputs(), TestFixture::options(Mode::kRecurrent));
  TestFixture::expect_both_forms_match(c, TestFixture::options(Mode::kAuto), ref, 1e-4, "");
}

// Slow decays everywhere except a burst of fast ones: sub-blocks of both kinds (factored and
// per-entry exponents in the GLA chunk form) in one sequence, each checked by the oracle.
TYPED_TEST(ScanTest, SlowAndFastDecayBlocksMixed) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  Case c(ScanShape{2, 3 * kC + 5, 2, 40, 24, {}}, 111, GateRange{-0.12, 0.0});
  const index_t width = Rule::kPerKeyDecay ? 40 : 1;
  for (index_t t = 70; t < 75; ++t) {  // inside the second chunk's first sub-block
    for (index_t i = 0; i < width; i += 3) c.g[(t * 2 + 1) * width + i] = -9;
  }
  const auto opt = TestFixture::options(Mode::kChunk);
  const auto ref = reference::scan<Rule>(c.inputs(), opt);
  const auto [o_err, ht_err] = TestFixture::errors(c, opt, ref);
  EXPECT_LT(o_err, tolerance<T>());
  EXPECT_LT(ht_err, tolerance<T>());
}

// With qk_l2norm (the GDN default) random unnormalised keys are fine for both rules.
TYPED_TEST(ScanTest, QkL2normAndScaleMatchReference) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  for (index_t t : {index_t(5), 2 * kC + 3}) {
    Case c(ScanShape{2, t, 2, 33, 40, {}}, 31);
    c.k = randn<T>(c.k.size(), 32, 3.0);
    for (double scale : {0.25, 1.5}) {
      ScanOptions opt;
      opt.qk_l2norm = true;
      opt.scale = scale;
      const auto ref = reference::scan<Rule>(c.inputs(), opt);
      TestFixture::expect_both_forms_match(
          c, opt, ref, tolerance<T>(),
          "T=" + std::to_string(t) + " scale=" + std::to_string(scale));
    }
  }
}

// Betas up to 2 (allow_neg_eigval) with normalised keys: the delta rule's bound
// 0 <= beta |k|^2 <= 2 still holds, and both forms match the oracle. (Rules with beta only.)
template <class C>
class BetaScanTest : public ScanTest<C> {};
using BetaConfigs = ::testing::Types<Config<GdnRule, float>, Config<GdnRule, double>>;
TYPED_TEST_SUITE(BetaScanTest, BetaConfigs, ConfigNames);

TYPED_TEST(BetaScanTest, BetasUpToTwoMatchReference) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  Case c(ScanShape{2, 2 * kC + 7, 2, 24, 20, {}}, 121);
  c.beta = uniform<T>(c.beta.size(), 122, 0.0, 2.0);
  ScanOptions opt;
  opt.allow_neg_eigval = true;
  opt.qk_l2norm = true;
  const auto ref = reference::scan<Rule>(c.inputs(), opt);
  TestFixture::expect_both_forms_match(c, opt, ref, tolerance<T>(), "");
}

// Another chunk size is a template argument; it computes the same function.
TYPED_TEST(ScanTest, OtherChunkSizeMatchesReference) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  Case c(ScanShape{1, 150, 2, 20, 9, {}}, 41);
  const auto opt = TestFixture::options(Mode::kChunk);
  const auto ref = reference::scan<Rule>(c.inputs(), opt);
  scan<Rule, Chunked<32>>(c.inputs(), c.outputs(), opt);
  EXPECT_LT(rel_error(c.o, ref.o), tolerance<T>());
  EXPECT_LT(rel_error(c.ht, ref.ht), tolerance<T>());
}

// Packed sequences (with empty and length-1 ones) equal a loop over the sequences; an empty
// sequence leaves its state as it was, bit for bit.
TYPED_TEST(ScanTest, PackedSequencesEqualSeparateRuns) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  const std::vector<std::int64_t> cu = {0, 0, 1, 1, 70, 90, 90, 223};
  Case packed(ScanShape{1, cu.back(), 2, 12, 17, cu}, 51);
  const auto opt = ScanOptions{};
  scan<Rule>(packed.inputs(), packed.outputs(), opt);

  const index_t H = 2, K = 12, V = 17;
  for (std::size_t s = 0; s + 1 < cu.size(); ++s) {
    const index_t begin = cu[s], len = cu[s + 1] - cu[s];
    Case one(ScanShape{1, len, H, K, V, {}}, 51);
    auto slice = [&](const std::vector<T>& from, index_t width) {
      return std::vector<T>(from.begin() + begin * H * width,
                            from.begin() + (begin + len) * H * width);
    };
    one.q = slice(packed.q, K), one.k = slice(packed.k, K), one.v = slice(packed.v, V);
    one.g = slice(packed.g, Rule::kPerKeyDecay ? K : 1);
    if (Rule::kHasBeta) one.beta = slice(packed.beta, 1);
    const auto state = std::size_t(H * K * V);
    one.h0.assign(packed.h0.begin() + s * state, packed.h0.begin() + (s + 1) * state);
    one.poison();
    scan<Rule>(one.inputs(), one.outputs(), opt);
    EXPECT_LT(rel_error(one.o, slice(packed.o, V)), layout_tolerance<T>()) << "sequence " << s;
    EXPECT_LT(rel_error(one.ht, std::vector<T>(packed.ht.begin() + s * state,
                                               packed.ht.begin() + (s + 1) * state)),
              layout_tolerance<T>())
        << "sequence " << s;
    if (len == 0) {
      EXPECT_TRUE(same_bits(one.ht, one.h0)) << "empty sequence " << s;
    }
  }
}

// 1, 2 and 3 threads give the same bits; a caller-supplied workspace changes nothing.
TYPED_TEST(ScanTest, ThreadsAndWorkspaceDoNotChangeBits) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  Case c(ScanShape{2, 2 * kC + 9, 3, 16, 24, {}}, 61);
  scan<Rule>(c.inputs(), c.outputs());
  const auto o1 = c.o, ht1 = c.ht;
  for (std::size_t threads : {2u, 3u}) {
    ThreadPool pool(threads);
    c.poison();
    scan<Rule>(c.inputs(), c.outputs(), ScanOptions{}, pool);
    EXPECT_TRUE(same_bits(c.o, o1)) << threads << " threads";
    EXPECT_TRUE(same_bits(c.ht, ht1)) << threads << " threads";

    std::vector<std::byte> memory(scan_workspace_size<Rule>(c.inputs(), c.outputs(), pool));
    c.poison();
    scan<Rule>(c.inputs(), c.outputs(), ScanOptions{}, pool,
               Workspace(memory.data(), memory.size()));
    EXPECT_TRUE(same_bits(c.o, o1)) << threads << " threads with a workspace";
  }
}

// ht may be the very buffer of h0 (in-place update); ht may also be absent.
TYPED_TEST(ScanTest, InPlaceAndAbsentStates) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  Case c(ScanShape{2, 70, 2, 9, 13, {}}, 71);
  scan<Rule>(c.inputs(), c.outputs());
  const auto o_ref = c.o, ht_ref = c.ht;

  std::vector<T> state = c.h0;
  auto in = c.inputs();
  in.h0 = {state.data(), in.h0.extents()};
  auto out = c.outputs();
  out.ht = {state.data(), out.ht.extents()};
  c.poison();
  scan<Rule>(in, out);
  EXPECT_TRUE(same_bits(state, ht_ref));
  EXPECT_TRUE(same_bits(c.o, o_ref));

  out.ht = {};
  c.poison();
  scan<Rule>(c.inputs(), out);
  EXPECT_TRUE(same_bits(c.o, o_ref));
}

// Strided inputs (q, k, v as slices of one fused [B,T,3,H,D] projection) equal contiguous ones.
TYPED_TEST(ScanTest, StridedInputsEqualContiguous) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  const index_t B = 2, Tn = 80, H = 2, D = 12;
  Case c(ScanShape{B, Tn, H, D, D, {}}, 81);
  scan<Rule>(c.inputs(), c.outputs());
  const auto o_ref = c.o;

  std::vector<T> fused(std::size_t(B * Tn * 3 * H * D));
  const std::vector<T>* parts[] = {&c.q, &c.k, &c.v};
  for (index_t r = 0; r < B * Tn; ++r) {
    for (index_t p = 0; p < 3; ++p) {
      std::copy_n(parts[p]->begin() + r * H * D, H * D, fused.begin() + (r * 3 + p) * H * D);
    }
  }
  const Extents<4> strides{Tn * 3 * H * D, 3 * H * D, D, 1};
  auto in = c.inputs();
  in.q = {fused.data(), in.q.extents(), strides};
  in.k = {fused.data() + H * D, in.k.extents(), strides};
  in.v = {fused.data() + 2 * H * D, in.v.extents(), strides};
  c.poison();
  scan<Rule>(in, c.outputs());
  EXPECT_LT(rel_error(c.o, o_ref), layout_tolerance<T>());
}

// Mode::kAuto takes the recurrent form below kAutoChunkMinLength tokens and the chunked one
// from there on.
TYPED_TEST(ScanTest, AutoModePicksBySequenceLength) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  for (index_t t :
       {index_t(1), index_t(kAutoChunkMinLength - 1), index_t(kAutoChunkMinLength), index_t(100)}) {
    Case c(ScanShape{1, t, 1, 8, 8, {}}, 91);
    const Mode expected = t < kAutoChunkMinLength ? Mode::kRecurrent : Mode::kChunk;
    scan<Rule>(c.inputs(), c.outputs(), TestFixture::options(expected));
    const auto o_expected = c.o;
    c.poison();
    scan<Rule>(c.inputs(), c.outputs(), TestFixture::options(Mode::kAuto));
    EXPECT_TRUE(same_bits(c.o, o_expected)) << "T=" << t;
  }
}

// T = 0: nothing to compute; ht is h0.
TYPED_TEST(ScanTest, EmptySequenceKeepsState) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  using Case = ScanCase<Rule, T>;
  Case c(ScanShape{2, 0, 2, 5, 6, {}}, 101);
  scan<Rule>(c.inputs(), c.outputs());
  EXPECT_TRUE(same_bits(c.ht, c.h0));
  Case zero(ScanShape{1, 0, 1, 3, 4, {}}, 102, GateRange{}, false);
  scan<Rule>(zero.inputs(), zero.outputs());
  for (auto x : zero.ht) EXPECT_EQ(x, 0);
}

}  // namespace
}  // namespace sse::test
