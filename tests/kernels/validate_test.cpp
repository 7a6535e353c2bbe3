// Every bad input of sse::scan gives a clear error naming the tensor, and leaves the outputs
// untouched (validate_scan runs before anything is written).

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/kernels/scan.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/bad_input.hpp"
#include "support/compare.hpp"
#include "support/scan_case.hpp"

namespace sse::test {
namespace {

/// sse::scan for the bad-input harness (support/bad_input.hpp).
template <class Rule>
struct ScanHarness {
  using Case = ScanCase<Rule, float>;
  using In = ScanInputs<Rule, float>;
  using Out = ScanOutputs<float>;
  using Options = ScanOptions;
  static Case make_case() { return Case(ScanShape{1, 20, 2, 8, 6, {}}, 7); }
  static Out outputs(Case& c) { return c.outputs(); }
  static Options options(const Case&) { return {}; }
  static Status validate(const In& in, const Out& out, const Options& options) {
    return validate_scan(in, out, options);
  }
  static void run(const In& in, const Out& out, const Options& options) {
    scan<Rule>(in, out, options);
  }
  static std::vector<NamedBytes> buffers(const Case& c) {
    return {bytes_of("o", c.o), bytes_of("ht", c.ht)};
  }
};

template <class Rule>
using BadInput = sse::test::BadInput<ScanHarness<Rule>>;

template <class Rule>
std::vector<BadInput<Rule>> common_bad_inputs() {
  using In = ScanInputs<Rule, float>;
  using Out = ScanOutputs<float>;
  using Case = ScanCase<Rule, float>;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  static std::vector<std::int64_t> cu;
  return {
      {"q missing", [](Case&, In& in, Out&, ScanOptions&) { in.q = {}; }, "q: missing"},
      {"K = 0",
       [](Case& c, In& in, Out&, ScanOptions&) {
         in.q = {c.q.data(), {1, 20, 2, 0}};
       },
       "q: expected shape [B,T,H,K] with B, H, K >= 1"},
      {"k shape",
       [](Case& c, In& in, Out&, ScanOptions&) {
         in.k = {c.k.data(), {1, 20, 2, 7}};
       },
       "k: expected shape [B,T,H,K] = [1,20,2,8], got [1,20,2,7]"},
      {"k missing", [](Case&, In& in, Out&, ScanOptions&) { in.k = {}; }, "k: missing"},
      {"v tokens",
       [](Case& c, In& in, Out&, ScanOptions&) {
         in.v = {c.v.data(), {1, 19, 2, 6}};
       },
       "v: expected shape [B,T,H,V] = [1,20,2,6], got [1,19,2,6]"},
      {"g missing", [](Case&, In& in, Out&, ScanOptions&) { in.g = {}; }, "g: missing"},
      {"g positive", [](Case& c, In&, Out&, ScanOptions&) { c.g[5] = 0.5f; }, "is positive"},
      {"g NaN", [nan](Case& c, In&, Out&, ScanOptions&) { c.g[3] = nan; }, "g: element"},
      {"g -inf", [inf](Case& c, In&, Out&, ScanOptions&) { c.g.back() = -inf; }, "is not finite"},
      {"h0 shape",
       [](Case& c, In& in, Out&, ScanOptions&) {
         in.h0 = {c.h0.data(), {1, 2, 6, 8}};
       },
       "h0: expected shape [S,H,K,V] = [1,2,8,6], got [1,2,6,8]"},
      {"o shape",
       [](Case& c, In&, Out& out, ScanOptions&) {
         out.o = {c.o.data(), {1, 20, 2, 5}};
       },
       "o: expected shape [B,T,H,V]"},
      {"o missing", [](Case&, In&, Out& out, ScanOptions&) { out.o = {}; }, "o: missing"},
      {"ht shape",
       [](Case& c, In&, Out& out, ScanOptions&) {
         out.ht = {c.ht.data(), {2, 2, 8, 6}};
       },
       "ht: expected shape [S,H,K,V] = [1,2,8,6], got [2,2,8,6]"},
      {"o rows overlap",
       [](Case& c, In&, Out& out, ScanOptions&) {
         out.o = {c.o.data(), {1, 20, 2, 6}, {240, 6, 6, 1}};
       },
       "o: strides [240,6,6,1] make elements of shape [1,20,2,6] overlap"},
      {"ht rows strided",
       [](Case& c, In&, Out& out, ScanOptions&) {
         out.ht = {c.ht.data(), {1, 2, 4, 6}, {96, 48, 12, 1}};
         c.ht.resize(96);
       },
       "ht: expected shape [S,H,K,V] = [1,2,8,6], got [1,2,4,6]"},
      {"h0 matrix not contiguous",
       [](Case& c, In& in, Out&, ScanOptions&) {
         c.h0.resize(200);
         in.h0 = {c.h0.data(), {1, 2, 8, 6}, {200, 100, 12, 1}};
       },
       "h0: each [K,V] matrix must be contiguous"},
      {"q inner stride",
       [](Case& c, In& in, Out&, ScanOptions&) {
         in.q = {c.q.data(), {1, 20, 2, 8}, {160, 8, 1, 0}};
       },
       "q: the last dimension must be contiguous"},
      {"negative stride",
       [](Case& c, In& in, Out&, ScanOptions&) {
         in.k = {c.k.data() + 152, {1, 20, 2, 8}, {320, -8, 160, 1}};
       },
       "k: negative strides"},
      {"o overlaps q",
       [](Case& c, In& in, Out& out, ScanOptions&) {
         c.q.resize(c.o.size() + c.q.size());
         in.q = {c.q.data(), {1, 20, 2, 8}};
         out.o = {c.q.data() + 8, {1, 20, 2, 6}};
       },
       "o: overlaps"},
      {"ht overlaps v",
       [](Case& c, In&, Out& out, ScanOptions&) {
         out.ht = {c.v.data(), {1, 2, 8, 6}};
       },
       "ht: overlaps"},
      {"scale NaN", [nan](Case&, In&, Out&, ScanOptions& opt) { opt.scale = nan; },
       "scale: must be finite"},
      {"cu_seqlens with B = 2",
       [](Case&, In& in, Out&, ScanOptions&) {
         cu = {0, 20};
         in.cu_seqlens = {cu.data(), {2}};
         in.q = {in.q.data(), {2, 10, 2, 8}};
       },
       "k: expected shape"},
      {"cu_seqlens start",
       [](Case&, In& in, Out&, ScanOptions&) {
         cu = {1, 20};
         in.cu_seqlens = {cu.data(), {2}};
       },
       "cu_seqlens: must start at 0, got 1"},
      {"cu_seqlens decreasing",
       [](Case&, In& in, Out&, ScanOptions&) {
         cu = {0, 12, 5, 20};
         in.cu_seqlens = {cu.data(), {4}};
       },
       "cu_seqlens: must be non-decreasing"},
      {"cu_seqlens end",
       [](Case&, In& in, Out&, ScanOptions&) {
         cu = {0, 12, 19};
         in.cu_seqlens = {cu.data(), {3}};
       },
       "cu_seqlens: must end at T = 20, got 19"},
      {"cu_seqlens too short",
       [](Case&, In& in, Out&, ScanOptions&) {
         cu = {0};
         in.cu_seqlens = {cu.data(), {1}};
       },
       "cu_seqlens: expected shape [S+1] with S >= 1"},
      {"h0 for the wrong S",
       [](Case&, In& in, Out&, ScanOptions&) {
         cu = {0, 5, 20};
         in.cu_seqlens = {cu.data(), {3}};
       },
       "h0: expected shape [S,H,K,V] = [2,2,8,6], got [1,2,8,6]"},
  };
}

}  // namespace

TEST(ScanValidation, GlaRejectsBadInputs) {
  auto cases = common_bad_inputs<GlaRule>();
  using In = ScanInputs<GlaRule, float>;
  using Case = ScanCase<GlaRule, float>;
  std::vector<float> beta(40, 0.5f);
  cases.push_back({"beta given to GLA",
                   [&beta](Case&, In& in, ScanOutputs<float>&, ScanOptions&) {
                     in.beta = {beta.data(), {1, 20, 2}};
                   },
                   "beta: the gla rule takes no beta"});
  cases.push_back({"g shape",
                   [](Case& c, In& in, ScanOutputs<float>&, ScanOptions&) {
                     in.g = {c.g.data(), {1, 20, 1, 8}};
                   },
                   "g: expected shape [B,T,H,K] = [1,20,2,8], got [1,20,1,8]"});
  expect_rejected(cases);
}

TEST(ScanValidation, GdnRejectsBadInputs) {
  auto cases = common_bad_inputs<GdnRule>();
  using In = ScanInputs<GdnRule, float>;
  using Case = ScanCase<GdnRule, float>;
  using Out = ScanOutputs<float>;
  cases.push_back({"beta missing", [](Case&, In& in, Out&, ScanOptions&) { in.beta = {}; },
                   "beta: missing (expected shape [B,T,H] = [1,20,2])"});
  cases.push_back(
      {"beta above 1", [](Case& c, In&, Out&, ScanOptions&) { c.beta[7] = 1.5f; },
       "beta: element [0,3,1] = 1.5 is outside [0, 1] (beta up to 2 needs allow_neg_eigval)"});
  cases.push_back({"beta negative", [](Case& c, In&, Out&, ScanOptions&) { c.beta[0] = -0.1f; },
                   "is outside [0, 1]"});
  cases.push_back({"beta above 2",
                   [](Case& c, In&, Out&, ScanOptions& opt) {
                     opt.allow_neg_eigval = true;
                     c.beta[2] = 2.5f;
                   },
                   "beta: element [0,1,0] = 2.5 is outside [0, 2]"});
  cases.push_back({"beta NaN",
                   [](Case& c, In&, Out&, ScanOptions&) {
                     c.beta[1] = std::numeric_limits<float>::quiet_NaN();
                   },
                   "beta: element [0,0,1] = nan"});
  cases.push_back({"g shape",
                   [](Case& c, In& in, Out&, ScanOptions&) {
                     in.g = {c.g.data(), {1, 20, 1}};
                   },
                   "g: expected shape [B,T,H] = [1,20,2], got [1,20,1]"});
  expect_rejected(cases);
}

// Betas up to 2 are accepted with allow_neg_eigval.
TEST(ScanValidation, AllowNegEigvalAcceptsBetaUpToTwo) {
  ScanCase<GdnRule, float> c(ScanShape{1, 20, 2, 8, 6, {}}, 7);
  c.beta[4] = 2.0f;
  ScanOptions opt;
  EXPECT_FALSE(validate_scan(c.inputs(), c.outputs(), opt).ok());
  opt.allow_neg_eigval = true;
  EXPECT_TRUE(validate_scan(c.inputs(), c.outputs(), opt).ok());
  scan<GdnRule>(c.inputs(), c.outputs(), opt);
  for (float x : c.o) EXPECT_TRUE(std::isfinite(x));
}

// Without exceptions an entry point calls the overridable handler; here the handler is
// observed through set_error_handler's return value.
TEST(ScanValidation, ErrorHandlerIsOverridable) {
  auto handler = +[](const char*) {};
  const ErrorHandler previous = set_error_handler(handler);
  EXPECT_EQ(set_error_handler(previous), handler);
}

}  // namespace sse::test
