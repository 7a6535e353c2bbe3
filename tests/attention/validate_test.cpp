// Every bad input of sse::sse_attention gives a one-line error naming the tensor, and leaves
// every output (o, ht, the routing) untouched: validate_sse_attention runs before any write.

#include "sse/attention/validate.hpp"

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/attention/sse_attention.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/bad_input.hpp"
#include "support/compare.hpp"
#include "support/sse_case.hpp"

namespace sse::test {
namespace {

constexpr index_t kT = 20, kH = 2, kK = 8, kV = 6, kN = 4;

/// sse::sse_attention for the bad-input harness (support/bad_input.hpp): o, ht, h0 (in place
/// it is an output too) and the routing must keep their bits.
template <class Rule>
struct SseHarness {
  using Case = SseCase<Rule, float>;
  using In = SseInputs<Rule, float>;
  using Out = SseOutputs<float>;
  using Options = AttentionOptions;
  static Case make_case() { return Case(SseShape{1, kT, kH, kK, kV, kN, {}}, 7); }
  static Out outputs(Case& c) { return c.outputs(/*with_routing=*/true); }
  static Options options(const Case& c) { return c.options(); }
  static Status validate(const In& in, const Out& out, const Options& options) {
    return validate_sse_attention(in, out, options);
  }
  static void run(const In& in, const Out& out, const Options& options) {
    sse_attention<Rule>(in, out, options);
  }
  static std::vector<NamedBytes> buffers(const Case& c) {
    return {bytes_of("o", c.o),
            bytes_of("ht", c.ht),
            bytes_of("h0", c.h0),
            bytes_of("p", c.p),
            bytes_of("writer_ids", c.writer_ids),
            bytes_of("reader_ids", c.reader_ids)};
  }
};

template <class Rule>
using BadInput = sse::test::BadInput<SseHarness<Rule>>;

template <class Rule>
std::vector<BadInput<Rule>> common_bad_inputs() {
  using In = SseInputs<Rule, float>;
  using Out = SseOutputs<float>;
  using Opt = AttentionOptions;
  using Case = SseCase<Rule, float>;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  static std::vector<std::int64_t> cu, slots;
  return {
      {"q1 missing", [](Case&, In& in, Out&, Opt&) { in.q1 = {}; }, "q1: missing"},
      {"v missing", [](Case&, In& in, Out&, Opt&) { in.v = {}; }, "v: missing"},
      {"eta missing", [](Case&, In& in, Out&, Opt&) { in.eta = {}; }, "eta: missing"},
      {"k2 shape",
       [](Case& c, In& in, Out&, Opt&) {
         in.k2 = {c.k2.data(), {1, kT, kH, kK - 1}};
       },
       "k2: expected shape [B,T,H,K] = [1,20,2,8], got [1,20,2,7]"},
      {"q2 missing", [](Case&, In& in, Out&, Opt&) { in.q2 = {}; }, "q2: missing"},
      {"v tokens",
       [](Case& c, In& in, Out&, Opt&) {
         in.v = {c.v.data(), {1, kT - 1, kH, kV}};
       },
       "v: expected shape [B,T,H,V]"},
      {"eta tokens",
       [](Case& c, In& in, Out&, Opt&) {
         in.eta = {c.eta.data(), {1, kT - 1, kN}};
       },
       "eta: expected shape [B,T,N]"},
      {"g1 missing", [](Case&, In& in, Out&, Opt&) { in.g1 = {}; }, "g1: missing"},
      {"g2 positive", [](Case& c, In&, Out&, Opt&) { c.g2[5] = 0.5f; }, "g2: element"},
      {"g1 NaN", [nan](Case& c, In&, Out&, Opt&) { c.g1[3] = nan; }, "g1: element"},
      {"g2 -inf", [inf](Case& c, In&, Out&, Opt&) { c.g2.back() = -inf; }, "is not finite"},
      {"eta NaN", [nan](Case& c, In&, Out&, Opt&) { c.eta[9] = nan; }, "eta: element"},
      {"eta +inf", [inf](Case& c, In&, Out&, Opt&) { c.eta[0] = inf; }, "is not a router logit"},
      {"eta all -inf",
       [inf](Case& c, In&, Out&, Opt&) {
         for (index_t n = 0; n < kN; ++n) c.eta[std::size_t(4 * kN + n)] = -inf;
       },
       "eta: token [0,4] has every logit -inf"},
      {"writers > N", [](Case&, In&, Out&, Opt& opt) { opt.writers = kN + 1; },
       "writers: expected 1 <= k <= N = 4, got 5"},
      {"readers = 0", [](Case&, In&, Out&, Opt& opt) { opt.readers = 0; },
       "readers: expected 1 <= k <= N"},
      {"sparse path with writers != readers",
       [](Case&, In&, Out& out, Opt& opt) {
         opt.path = Path::kSparse;
         opt.readers = 2;
         out.routing = {};
       },
       "path: the sparse path needs writers == readers"},
      {"scale NaN", [nan](Case&, In&, Out&, Opt& opt) { opt.scale = nan; },
       "scale: must be finite"},
      {"h0 partitions",
       [](Case& c, In& in, Out&, Opt&) {
         in.h0 = {c.h0.data(), {1, kN, kH, kK, kV}};
       },
       "h0: expected shape [S,1+N,H,K,V] = [1,5,2,8,6], got [1,4,2,8,6]"},
      {"ht shape",
       [](Case& c, In&, Out& out, Opt&) {
         out.ht = {c.ht.data(), {1, 1 + kN, kH, kK, kV - 1}};
       },
       "ht: expected shape [S,1+N,H,K,V]"},
      {"ht matrix not contiguous",
       [](Case&, In&, Out& out, Opt&) {
         constexpr index_t rows = 2 * kV, matrix = kK * rows;
         static std::vector<float> wide(std::size_t((1 + kN) * kH * matrix));
         out.ht = {wide.data(),
                   {1, 1 + kN, kH, kK, kV},
                   {(1 + kN) * kH * matrix, kH * matrix, matrix, rows, 1}};
       },
       "ht: each [K,V] matrix must be contiguous"},
      {"o missing", [](Case&, In&, Out& out, Opt&) { out.o = {}; }, "o: missing"},
      {"o rows overlap",
       [](Case& c, In&, Out& out, Opt&) {
         out.o = {c.o.data(), {1, kT, kH, kV}, {0, 0, kV, 1}};
       },
       "o: strides"},
      {"o overlaps q1",
       [](Case& c, In&, Out& out, Opt&) {
         out.o = {c.q1.data(), {1, kT, kH, kV}};
       },
       "o: overlaps"},
      {"ht partly overlaps h0",
       [](Case& c, In& in, Out& out, Opt&) {
         out.ht = {const_cast<float*>(in.h0.data()) + 1, {1, 1 + kN, kH, kK, kV}};
         static_cast<void>(c);
       },
       "ht: overlaps"},
      {"p overlaps o",
       [](Case& c, In&, Out& out, Opt&) {
         out.routing.p = {reinterpret_cast<float*>(c.o.data()), {1, kT, kN}};
       },
       "overlaps"},
      {"routing partly given", [](Case&, In&, Out& out, Opt&) { out.routing.reader_ids = {}; },
       "routing: give all of p, writer_ids and reader_ids, or none"},
      {"writer_ids for the wrong k",
       [](Case& c, In&, Out& out, Opt&) {
         out.routing.writer_ids = {c.writer_ids.data(), {1, kT, 2}};
       },
       "writer_ids: expected shape [B,T,KW] = [1,20,1], got [1,20,2]"},
      {"cu_seqlens decreasing",
       [](Case&, In& in, Out&, Opt&) {
         cu = {0, 12, 8, kT};
         in.cu_seqlens = {cu.data(), {4}};
       },
       "cu_seqlens"},
      {"cu_seqlens end",
       [](Case&, In& in, Out&, Opt&) {
         cu = {0, 12, kT - 1};
         in.cu_seqlens = {cu.data(), {3}};
       },
       "cu_seqlens"},
      {"state slot outside the pool",
       [](Case&, In& in, Out&, Opt&) {
         slots = {1};
         in.state_slots = {slots.data(), {1}};
       },
       "state_slots: element [0] = 1 is outside the pool [0, 1)"},
      {"state slot used twice",
       [](Case& c, In& in, Out& out, Opt&) {
         cu = {0, 12, kT};
         slots = {0, 0};
         in.cu_seqlens = {cu.data(), {3}};
         in.state_slots = {slots.data(), {2}};
         in.h0 = {c.h0.data(), {1, 1 + kN, kH, kK, kV}};
         out.ht = {c.ht.data(), {1, 1 + kN, kH, kK, kV}};
       },
       "state_slots: slot 0 is used by two sequences"},
      {"state slots for the wrong S",
       [](Case&, In& in, Out&, Opt&) {
         slots = {0, 0};
         in.state_slots = {slots.data(), {2}};
       },
       "state_slots: expected shape [S] = [1], got [2]"},
      {"state slots without states",
       [](Case&, In& in, Out& out, Opt&) {
         slots = {0};
         in.state_slots = {slots.data(), {1}};
         in.h0 = {};
         out.ht = {};
       },
       "state_slots: given without h0 or ht"},
  };
}

TEST(SseValidation, GlaRejectsBadInputs) {
  using In = SseInputs<GlaRule, float>;
  using Case = SseCase<GlaRule, float>;
  auto cases = common_bad_inputs<GlaRule>();
  cases.push_back({"beta given to GLA",
                   [](Case& c, In& in, SseOutputs<float>&, AttentionOptions&) {
                     in.beta1 = {c.g1.data(), {1, kT, kH}};
                   },
                   "beta1: the gla rule takes no beta"});
  cases.push_back({"g2 per head",
                   [](Case& c, In& in, SseOutputs<float>&, AttentionOptions&) {
                     in.g2 = {c.g2.data(), {1, kT, kH, 1}};
                   },
                   "g2: expected shape [B,T,H,K] = [1,20,2,8], got [1,20,2,1]"});
  expect_rejected(cases);
}

TEST(SseValidation, GdnRejectsBadInputs) {
  using In = SseInputs<GdnRule, float>;
  using Out = SseOutputs<float>;
  using Case = SseCase<GdnRule, float>;
  auto cases = common_bad_inputs<GdnRule>();
  cases.push_back({"beta2 missing", [](Case&, In& in, Out&, AttentionOptions&) { in.beta2 = {}; },
                   "beta2: missing"});
  cases.push_back({"beta1 above 1",
                   [](Case& c, In&, Out&, AttentionOptions&) { c.beta1[7] = 1.5f; },
                   "beta1: element [0,3,1] = 1.5 is outside [0, 1] (beta up to 2 needs "
                   "allow_neg_eigval)"});
  cases.push_back({"beta2 above 2",
                   [](Case& c, In&, Out&, AttentionOptions& opt) {
                     opt.allow_neg_eigval = true;
                     c.beta2[2] = 2.5f;
                   },
                   "beta2: element [0,1,0] = 2.5 is outside [0, 2]"});
  cases.push_back({"g1 per key",
                   [](Case& c, In& in, Out&, AttentionOptions&) {
                     in.g1 = {c.g1.data(), {1, kT, 1}};
                   },
                   "g1: expected shape [B,T,H] = [1,20,2], got [1,20,1]"});
  expect_rejected(cases);
}

}  // namespace
}  // namespace sse::test
