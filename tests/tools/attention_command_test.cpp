// sse-run attention: the float64 SSE oracle's results through .npy files (both bases, packed
// sequences, every path and mode, bf16), --repeat, and every bad input.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/core/bfloat16.hpp"
#include "sse/io/npy.hpp"
#include "sse/reference/naive_sse.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "sse_run_fixture.hpp"
#include "support/compare.hpp"

namespace sse::test {
namespace {

namespace fs = std::filesystem;

// sse-run attention == the float64 SSE oracle: both bases, packed sequences with int32
// cu_seqlens, every path and mode, writers != readers, emul flags off.
TEST_F(SseRunTest, AttentionMatchesFloat64Reference) {
  struct Run {
    std::string flags;
    AttentionOptions options;
  };
  AttentionOptions two_readers;
  two_readers.readers = 2;
  AttentionOptions no_emul;
  no_emul.emulq = no_emul.emulk = false;
  AttentionOptions top2;
  top2.writers = top2.readers = 2;
  top2.scale = 0.25;
  const std::vector<Run> runs = {
      {"--path masked --mode chunk", {}},
      {"--path sparse --mode recurrent", {}},
      {"--path auto --mode auto --threads 1", {}},
      {"--readers 2", two_readers},
      {"--no-emulq --no-emulk --path masked", no_emul},
      {"--writers 2 --readers 2 --scale 0.25", top2},
  };
  SseCase<GlaRule, float> gla(SseShape{1, 150, 2, 20, 12, 4, {0, 0, 1, 100, 150}}, 5);
  write_case(gla);
  AttentionOptions key_rows;  // GLA only: the row-level sparse update
  key_rows.key_rows = 3;
  std::vector<Run> gla_runs = runs;
  gla_runs.push_back({"--key-rows 3 --mode chunk", key_rows});
  for (const Run& run : gla_runs) {
    const RunResult r =
        run_sse_run("attention --base gla --in " + in() + " --out " + out() + " " + run.flags);
    ASSERT_EQ(r.status, 0) << run.flags << ": " << r.err;
    AttentionOptions opt = run.options;
    const auto ref = reference::sse_attention<GlaRule>(gla.inputs(), opt);
    EXPECT_LT(rel_error(io::read_npy(out() + "/o.npy").to_vector<float>(), ref.o), 1e-5)
        << run.flags;
    EXPECT_LT(rel_error(io::read_npy(out() + "/ht.npy").to_vector<float>(), ref.ht), 1e-5)
        << run.flags;
    EXPECT_EQ(io::read_npy(out() + "/ht.npy").shape, (std::vector<index_t>{4, 5, 2, 20, 12}));
  }

  fs::remove_all(in());
  fs::create_directories(in());
  SseCase<GdnRule, float> gdn(SseShape{2, 90, 3, 16, 24, 3, {}}, 6);
  write_case(gdn);
  for (const Run& run : runs) {
    const RunResult r =
        run_sse_run("attention --base gdn --in " + in() + " --out " + out() + " " + run.flags);
    ASSERT_EQ(r.status, 0) << run.flags << ": " << r.err;
    const auto ref = reference::sse_attention<GdnRule>(gdn.inputs(), run.options);  // l2norm on
    EXPECT_LT(rel_error(io::read_npy(out() + "/o.npy").to_vector<float>(), ref.o), 1e-5)
        << run.flags;
    EXPECT_LT(rel_error(io::read_npy(out() + "/ht.npy").to_vector<float>(), ref.ht), 1e-5)
        << run.flags;
  }
}

// --bf16: the inputs rounded to bfloat16 and run through the bf16 path; the result is the
// oracle's on the rounded values, not on the float32 files.
TEST_F(SseRunTest, AttentionBf16MatchesTheReferenceOnRoundedInputs) {
  for (const std::string base : {"gla", "gdn"}) {
    fs::remove_all(in());
    fs::create_directories(in());
    auto check = [&](auto& c, auto rule) {
      using Rule = decltype(rule);
      write_case(c);
      const RunResult r = run_sse_run("attention --base " + base + " --in " + in() + " --out " +
                                      out() + " --bf16 --threads 2");
      ASSERT_EQ(r.status, 0) << r.err;
      const auto o = io::read_npy(out() + "/o.npy").to_vector<float>();
      const auto exact = reference::sse_attention<Rule>(c.inputs(), AttentionOptions{});
      EXPECT_GT(rel_error(o, exact.o), 1e-4) << base << ": the inputs were not rounded";
      for (auto* x : {&c.q1, &c.k1, &c.q2, &c.k2, &c.v, &c.g1, &c.g2, &c.beta1, &c.beta2}) {
        for (float& e : *x) e = bfloat16::from_float(e).to_float();
      }
      const auto rounded = reference::sse_attention<Rule>(c.inputs(), AttentionOptions{});
      EXPECT_LT(rel_error(o, rounded.o), 1e-5) << base;
      EXPECT_LT(rel_error(io::read_npy(out() + "/ht.npy").to_vector<float>(), rounded.ht), 1e-5)
          << base;
    };
    if (base == "gla") {
      SseCase<GlaRule, float> c(SseShape{1, 100, 2, 16, 8, 4, {}}, 11);
      check(c, GlaRule{});
    } else {
      SseCase<GdnRule, float> c(SseShape{1, 100, 2, 16, 8, 4, {}}, 12);
      check(c, GdnRule{});
    }
  }
}

TEST_F(SseRunTest, AttentionRepeatPrintsOneTimingLineAndKeepsTheResult) {
  SseCase<GlaRule, float> c(SseShape{1, 64, 1, 8, 8, 4, {}}, 7);
  write_case(c);
  const RunResult r =
      run_sse_run("attention --base gla --in " + in() + " --out " + out() + " --repeat 3");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.rfind("time_ms median=", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  const auto ref = reference::sse_attention<GlaRule>(c.inputs(), AttentionOptions{});
  EXPECT_LT(rel_error(io::read_npy(out() + "/ht.npy").to_vector<float>(), ref.ht), 1e-5)
      << "repetitions start from h0";
}

// Each bad input of `attention`: exit status 2, one line naming the file, no output file.
TEST_F(SseRunTest, AttentionBadInputsExitTwoWithOneLineAndNoOutput) {
  const std::string gla = "attention --base gla ";
  const std::string gdn = "attention --base gdn ";
  constexpr float kInf = std::numeric_limits<float>::infinity();
  auto eta_with = [](float value, std::size_t at) {
    return [value, at](SseRunTest& t) {
      std::vector<float> eta(20 * 4, 0.5f);
      eta[at] = value;
      t.write("eta", eta, {1, 20, 4});
    };
  };
  const std::vector<Bad> cases = {
      {"missing q2", [](SseRunTest& t) { fs::remove(t.in() + "/q2.npy"); }, gla,
       "q2.npy: missing file"},
      {"missing eta", [](SseRunTest& t) { fs::remove(t.in() + "/eta.npy"); }, gla,
       "eta.npy: missing file"},
      {"float64 eta",
       [](SseRunTest& t) {
         t.write("eta", std::vector<double>(80), {1, 20, 4});
       },
       gla, "eta.npy: expected dtype float32, got float64"},
      {"k1 shape",
       [](SseRunTest& t) {
         t.write("k1", std::vector<float>(20 * 2 * 7), {1, 20, 2, 7});
       },
       gla, "k1.npy: expected shape [B,T,H,K] = [1,20,2,8], got [1,20,2,7]"},
      {"eta tokens",
       [](SseRunTest& t) {
         t.write("eta", std::vector<float>(19 * 4), {1, 19, 4});
       },
       gla, "eta.npy: expected shape [B,T,N] = [1,20,4], got [1,19,4]"},
      {"eta NaN", eta_with(std::numeric_limits<float>::quiet_NaN(), 6), gla,
       "eta.npy: element [0,1,2] = nan is not a router logit"},
      {"eta +inf", eta_with(kInf, 0), gla, "eta.npy: element [0,0,0] = inf is not a router logit"},
      {"eta all -inf",
       [](SseRunTest& t) {
         std::vector<float> eta(20 * 4, 0.5f);
         for (std::size_t n = 0; n < 4; ++n) eta[8 + n] = -kInf;
         t.write("eta", eta, {1, 20, 4});
       },
       gla, "eta.npy: token [0,2] has every logit -inf"},
      {"writers > N", [](SseRunTest&) {}, gla + "--writers 5 ",
       "--writers: expected 1 <= k <= N = 4, got 5"},
      {"readers > N", [](SseRunTest&) {}, gla + "--readers 9 --path masked ",
       "--readers: expected 1 <= k <= N = 4, got 9"},
      {"sparse with writers != readers", [](SseRunTest&) {}, gla + "--readers 2 --path sparse ",
       "--path: the sparse path needs writers == readers"},
      {"positive g2",
       [](SseRunTest& t) {
         std::vector<float> g(20 * 2 * 8, -0.5f);
         g[17] = 0.25f;
         t.write("g2", g, {1, 20, 2, 8});
       },
       gla, "g2.npy: element [0,1,0,1] = 0.25 is positive"},
      {"h0 for the wrong N",
       [](SseRunTest& t) {
         t.write("h0", std::vector<float>(4 * 2 * 8 * 6), {1, 4, 2, 8, 6});
       },
       gla, "h0.npy: expected shape [S,1+N,H,K,V] = [1,5,2,8,6], got [1,4,2,8,6]"},
      {"h0 rank",
       [](SseRunTest& t) {
         t.write("h0", std::vector<float>(2 * 8 * 6), {2, 8, 6});
       },
       gla, "h0.npy: expected 5 dimensions"},
      {"bad cu_seqlens",
       [](SseRunTest& t) {
         t.write("cu_seqlens", std::vector<std::int64_t>{0, 7, 5, 20}, {4});
       },
       gla, "cu_seqlens.npy: must be non-decreasing"},
      {"beta2 above 1",
       [](SseRunTest& t) {
         t.write("g1", std::vector<float>(40, -0.1f), {1, 20, 2});
         t.write("g2", std::vector<float>(40, -0.1f), {1, 20, 2});
         t.write("beta1", std::vector<float>(40, 0.5f), {1, 20, 2});
         std::vector<float> beta(40, 0.5f);
         beta[9] = 1.5f;
         t.write("beta2", beta, {1, 20, 2});
       },
       gdn, "beta2.npy: element [0,4,1] = 1.5 is outside [0, 1]"},
      {"truncated v",
       [](SseRunTest& t) {
         fs::resize_file(t.in() + "/v.npy", fs::file_size(t.in() + "/v.npy") - 3);
       },
       gla, "v.npy: data size"},
      {"bad path", [](SseRunTest&) {}, gla + "--path fast ",
       "--path: expected one of {auto|masked|sparse}"},
      {"bad writers", [](SseRunTest&) {}, gla + "--writers two ", "--writers: expected an integer"},
      {"key rows > K", [](SseRunTest&) {}, gla + "--key-rows 9 ",
       "--key-rows: expected 0 (dense keys) or 1 <= r <= K = 8, got 9"},
      {"key rows with gdn",
       [](SseRunTest& t) {
         t.write("g1", std::vector<float>(40, -0.1f), {1, 20, 2});
         t.write("g2", std::vector<float>(40, -0.1f), {1, 20, 2});
         t.write("beta1", std::vector<float>(40, 0.5f), {1, 20, 2});
         t.write("beta2", std::vector<float>(40, 0.5f), {1, 20, 2});
       },
       gdn + "--key-rows 2 ", "--key-rows: the gdn rule has no row-level sparse update"},
  };
  expect_rejected(cases, [this] {
    SseCase<GlaRule, float> c(SseShape{1, 20, 2, 8, 6, 4, {}}, 8);
    write_case(c);
  });
}

}  // namespace
}  // namespace sse::test
