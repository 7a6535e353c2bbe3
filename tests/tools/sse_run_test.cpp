// sse-run driven as a user drives it: .npy files in, .npy files out, exit statuses, one-line
// errors naming the file, and no output at all after a bad input.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/core/bfloat16.hpp"
#include "sse/io/npy.hpp"
#include "sse/io/safetensors.hpp"
#include "sse/layers/hybrid_model.hpp"
#include "sse/reference/naive_layers.hpp"
#include "sse/reference/naive_rules.hpp"
#include "sse/reference/naive_sse.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/compare.hpp"
#include "support/layer_weights.hpp"
#include "support/scan_case.hpp"
#include "support/sse_case.hpp"
#include <sys/wait.h>
#include <unistd.h>

namespace sse::test {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int status;
  std::string err;
};

RunResult run_sse_run(const std::string& args) {
  // One file per test: ctest runs the tests of this executable in parallel processes.
  const std::string err_file = ::testing::TempDir() + "/sse_run_stderr_" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                               "_" + std::to_string(::getpid()) + ".txt";
  const std::string cmd = std::string(SSE_RUN_PATH) + " " + args + " > /dev/null 2> " + err_file;
  const int raw = std::system(cmd.c_str());
  std::ifstream in(err_file);
  std::stringstream err;
  err << in.rdbuf();
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, err.str()};
}

struct RunOutput {
  int status;
  std::string out, err;
};

/// Runs sse-run with `args`, capturing stdout and stderr.
RunOutput run_sse_run_capturing(const std::string& args) {
  const std::string base = ::testing::TempDir() + "/sse_run_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
                           std::to_string(::getpid());
  const std::string cmd =
      std::string(SSE_RUN_PATH) + " " + args + " > " + base + ".out 2> " + base + ".err";
  const int raw = std::system(cmd.c_str());
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(base + ".out"), slurp(base + ".err")};
}

class SseRunTest : public ::testing::Test {
 public:  // the bad-input table mutates the fixture through these
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    root_ = fs::path(::testing::TempDir()) / ("sse_run_" + test + "_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "in");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string in() const { return (root_ / "in").string(); }
  std::string out() const { return (root_ / "out" / "nested").string(); }

  template <class T>
  void write(const std::string& name, const std::vector<T>& data, std::vector<index_t> shape) {
    io::write_npy(in() + "/" + name + ".npy", data.data(), shape);
  }

  /// Writes the inputs of `c` (optionally with cu_seqlens as int32) into DIR.
  template <class Rule>
  void write_case(const ScanCase<Rule, float>& c) {
    const auto& s = c.shape;
    write("q", c.q, {s.B, s.T, s.H, s.K});
    write("k", c.k, {s.B, s.T, s.H, s.K});
    write("v", c.v, {s.B, s.T, s.H, s.V});
    if (Rule::kPerKeyDecay) {
      write("g", c.g, {s.B, s.T, s.H, s.K});
    } else {
      write("g", c.g, {s.B, s.T, s.H});
    }
    if (Rule::kHasBeta) write("beta", c.beta, {s.B, s.T, s.H});
    if (!c.h0.empty()) write("h0", c.h0, {s.sequences(), s.H, s.K, s.V});
    if (!c.cu_seqlens.empty()) {
      const std::vector<std::int32_t> cu(c.cu_seqlens.begin(), c.cu_seqlens.end());
      write("cu_seqlens", cu, {index_t(cu.size())});
    }
  }

  /// Writes the inputs of an operator case (cu_seqlens as int32) into DIR.
  template <class Rule>
  void write_case(const SseCase<Rule, float>& c) {
    const auto& s = c.shape;
    for (const auto& [name, data] : {std::pair{"q1", &c.q1}, std::pair{"q2", &c.q2},
                                     std::pair{"k1", &c.k1}, std::pair{"k2", &c.k2}}) {
      write(name, *data, {s.B, s.T, s.H, s.K});
    }
    write("v", c.v, {s.B, s.T, s.H, s.V});
    write("eta", c.eta, {s.B, s.T, s.N});
    for (const auto& [name, data] : {std::pair{"g1", &c.g1}, std::pair{"g2", &c.g2}}) {
      if (Rule::kPerKeyDecay) {
        write(name, *data, {s.B, s.T, s.H, s.K});
      } else {
        write(name, *data, {s.B, s.T, s.H});
      }
    }
    if (Rule::kHasBeta) {
      write("beta1", c.beta1, {s.B, s.T, s.H});
      write("beta2", c.beta2, {s.B, s.T, s.H});
    }
    if (!c.h0.empty()) write("h0", c.h0, {s.sequences(), 1 + s.N, s.H, s.K, s.V});
    if (!c.cu_seqlens.empty()) {
      const std::vector<std::int32_t> cu(c.cu_seqlens.begin(), c.cu_seqlens.end());
      write("cu_seqlens", cu, {index_t(cu.size())});
    }
  }

  /// One bad input: `mutate` spoils a valid input folder, `args` starts the command line.
  struct Bad {
    const char* what;
    std::function<void(SseRunTest&)> mutate;
    std::string args;
    std::string expected;  // a substring of the one line on stderr
  };

  /// A mutation that writes <name>.npy, a float32 [1,20,2,8], with `from` in its header
  /// replaced by `to` (of the same length).
  static std::function<void(SseRunTest&)> header_edited(std::string name, std::string from,
                                                        std::string to) {
    return [name, from, to](SseRunTest& t) {
      std::string image(io::npy_image(std::vector<float>(320).data(), {1, 20, 2, 8}).data(),
                        64 + 320 * 4);
      image.replace(image.find(from), from.size(), to);
      std::ofstream(t.in() + "/" + name + ".npy", std::ios::binary) << image;
    };
  }

  /// Each case on a fresh folder written by `write_valid` (`--in DIR` appended when
  /// `input_folder`): exit status 2, one line on stderr containing `expected`, no output file.
  void expect_rejected(const std::vector<Bad>& cases, const std::function<void()>& write_valid,
                       bool input_folder = true) {
    for (const Bad& bad : cases) {
      fs::remove_all(in());
      fs::remove_all(root_ / "out");
      fs::create_directories(in());
      write_valid();
      bad.mutate(*this);
      const RunResult r =
          run_sse_run(bad.args + (input_folder ? "--in " + in() : "") + " --out " + out());
      EXPECT_EQ(r.status, 2) << bad.what << ": " << r.err;
      EXPECT_NE(r.err.find(bad.expected), std::string::npos)
          << bad.what << ": \"" << r.err << "\" lacks \"" << bad.expected << "\"";
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << bad.what << ": " << r.err;
      EXPECT_TRUE(outputs_absent()) << bad.what;
    }
  }

  bool outputs_absent() const {
    return !fs::exists(out() + "/o.npy") && !fs::exists(out() + "/ht.npy");
  }

  fs::path root_;
};

TEST_F(SseRunTest, ScanMatchesFloat64ReferenceForBothBases) {
  for (const char* mode : {"auto", "chunk", "recurrent"}) {
    ScanCase<GlaRule, float> gla(ScanShape{1, 150, 2, 20, 12, {0, 0, 1, 100, 150}}, 5);
    write_case(gla);
    RunResult r = run_sse_run("scan --base gla --in " + in() + " --out " + out() + " --mode " +
                              mode + " --threads 2");
    ASSERT_EQ(r.status, 0) << r.err;
    auto ref = reference::scan<GlaRule>(gla.inputs());
    EXPECT_LT(rel_error(io::read_npy(out() + "/o.npy").to_vector<float>(), ref.o), 1e-5) << mode;
    EXPECT_LT(rel_error(io::read_npy(out() + "/ht.npy").to_vector<float>(), ref.ht), 1e-5) << mode;
    EXPECT_EQ(io::read_npy(out() + "/ht.npy").shape, (std::vector<index_t>{4, 2, 20, 12}));
  }

  fs::remove_all(in());
  fs::create_directories(in());
  ScanCase<GdnRule, float> gdn(ScanShape{2, 90, 3, 16, 24, {}}, 6);
  write_case(gdn);
  RunResult r = run_sse_run("scan --base gdn --in " + in() + " --out " + out() + " --scale 0.3");
  ASSERT_EQ(r.status, 0) << r.err;
  ScanOptions opt;
  opt.scale = 0.3;  // and qk_l2norm on: the GDN default
  auto ref = reference::scan<GdnRule>(gdn.inputs(), opt);
  EXPECT_LT(rel_error(io::read_npy(out() + "/o.npy").to_vector<float>(), ref.o), 1e-5);
  EXPECT_LT(rel_error(io::read_npy(out() + "/ht.npy").to_vector<float>(), ref.ht), 1e-5);

  r = run_sse_run("scan --base gdn --no-qk-l2norm --in " + in() + " --out " + out());
  ASSERT_EQ(r.status, 0) << r.err;
  opt = {};
  opt.qk_l2norm = false;
  ref = reference::scan<GdnRule>(gdn.inputs(), opt);
  EXPECT_LT(rel_error(io::read_npy(out() + "/o.npy").to_vector<float>(), ref.o), 1e-5);
}

TEST_F(SseRunTest, RepeatPrintsOneTimingLine) {
  ScanCase<GlaRule, float> c(ScanShape{1, 64, 1, 8, 8, {}}, 7);
  write_case(c);
  const RunResult r =
      run_sse_run("scan --base gla --in " + in() + " --out " + out() + " --repeat 3");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.rfind("time_ms median=", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(" min="), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  ScanOptions opt;
  EXPECT_LT(rel_error(io::read_npy(out() + "/o.npy").to_vector<float>(),
                      reference::scan<GlaRule>(c.inputs(), opt).o),
            1e-5);
}

// Each bad input: exit status 2, one line on stderr containing `expected`, no output file.
TEST_F(SseRunTest, BadInputsExitTwoWithOneLineAndNoOutput) {
  const std::string gla = "scan --base gla ";
  const std::string gdn = "scan --base gdn ";
  const std::vector<Bad> cases = {
      {"missing q", [](SseRunTest& t) { fs::remove(t.in() + "/q.npy"); }, gla,
       "q.npy: missing file"},
      {"float64 q",
       [](SseRunTest& t) {
         t.write("q", std::vector<double>(20 * 2 * 8), {1, 20, 2, 8});
       },
       gla, "q.npy: expected dtype float32, got float64"},
      {"k shape",
       [](SseRunTest& t) {
         t.write("k", std::vector<float>(20 * 2 * 7), {1, 20, 2, 7});
       },
       gla, "k.npy: expected shape [B,T,H,K] = [1,20,2,8], got [1,20,2,7]"},
      {"v rank",
       [](SseRunTest& t) {
         t.write("v", std::vector<float>(240), {20, 2, 6});
       },
       gla, "v.npy: expected 4 dimensions [B,T,H,V], got shape [20,2,6]"},
      {"0-d h0", [](SseRunTest& t) { t.write("h0", std::vector<float>(1), {}); }, gla,
       "h0.npy: expected 4 dimensions"},
      {"positive g",
       [](SseRunTest& t) {
         std::vector<float> g(20 * 2 * 8, -0.5f);
         g[17] = 0.25f;
         t.write("g", g, {1, 20, 2, 8});
       },
       gla, "g.npy: element [0,1,0,1] = 0.25 is positive"},
      {"NaN g",
       [](SseRunTest& t) {
         std::vector<float> g(20 * 2 * 8, -0.5f);
         g[3] = std::numeric_limits<float>::quiet_NaN();
         t.write("g", g, {1, 20, 2, 8});
       },
       gla, "g.npy: element [0,0,0,3] = nan is not finite"},
      {"bad cu_seqlens",
       [](SseRunTest& t) {
         t.write("cu_seqlens", std::vector<std::int64_t>{0, 7, 5, 20}, {4});
       },
       gla, "cu_seqlens.npy: must be non-decreasing"},
      {"float cu_seqlens",
       [](SseRunTest& t) {
         t.write("cu_seqlens", std::vector<float>{0, 20}, {2});
       },
       gla, "cu_seqlens.npy: expected dtype int32 or int64, got float32"},
      {"truncated q",
       [](SseRunTest& t) {
         fs::resize_file(t.in() + "/q.npy", fs::file_size(t.in() + "/q.npy") - 3);
       },
       gla, "q.npy: data size"},
      {"not npy", [](SseRunTest& t) { std::ofstream(t.in() + "/v.npy") << "hello"; }, gla,
       "v.npy: not a .npy file"},
      {"fortran order", header_edited("k", "False", "True "), gla,
       "k.npy: Fortran-order arrays are not supported"},
      {"big-endian", header_edited("q", "<f4", ">f4"), gla,
       "q.npy: big-endian dtype '>f4' is not supported"},
      {"-inf g",
       [](SseRunTest& t) {
         std::vector<float> g(20 * 2 * 8, -0.5f);
         g[40] = -std::numeric_limits<float>::infinity();
         t.write("g", g, {1, 20, 2, 8});
       },
       gla, "g.npy: element [0,2,1,0] = -inf is not finite"},
      {"beta above 1",
       [](SseRunTest& t) {
         t.write("g", std::vector<float>(40, -0.1f), {1, 20, 2});
         std::vector<float> beta(40, 0.5f);
         beta[9] = 1.5f;
         t.write("beta", beta, {1, 20, 2});
       },
       gdn, "beta.npy: element [0,4,1] = 1.5 is outside [0, 1]"},
      {"beta above 2",
       [](SseRunTest& t) {
         t.write("g", std::vector<float>(40, -0.1f), {1, 20, 2});
         std::vector<float> beta(40, 0.5f);
         beta[0] = 2.5f;
         t.write("beta", beta, {1, 20, 2});
       },
       gdn + "--allow-neg-eigval ", "beta.npy: element [0,0,0] = 2.5 is outside [0, 2]"},
      {"unknown option", [](SseRunTest&) {}, gla + "--frobnicate ",
       "unknown argument '--frobnicate'"},
      {"bad mode", [](SseRunTest&) {}, gla + "--mode fast ",
       "--mode: expected one of {auto|chunk|recurrent}"},
      {"bad base", [](SseRunTest&) {}, "scan --base mamba ", "--base: expected one of {gla|gdn}"},
      {"bad threads", [](SseRunTest&) {}, gla + "--threads 0 ", "--threads: expected an integer"},
      {"bad scale", [](SseRunTest&) {}, gla + "--scale nan ", "--scale: expected a finite number"},
      {"unknown command", [](SseRunTest&) {}, "frobnicate ", "unknown command 'frobnicate'"},
  };
  expect_rejected(cases, [this] {
    ScanCase<GlaRule, float> c(ScanShape{1, 20, 2, 8, 6, {}}, 8);
    write_case(c);
  });
}

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

/// Writes `weights` as DIR/<key>.npy files.
void write_weights(const Weights& weights, const std::string& dir) {
  fs::create_directories(dir);
  for (const std::string& key : weights.keys()) {
    const Parameter& p = weights.at(key);
    io::write_npy(dir + "/" + key + ".npy", p.data.data(), p.shape);
  }
}

SseLayerConfig layer_config(bool grouped) {
  SseLayerConfig c;
  c.hidden = 20, c.heads = 2, c.v_heads = grouped ? 4 : 2, c.head_dim = 6, c.value_dim = 10;
  c.partitions = 3;
  return c;
}

// sse-run layer == the float64 layer, both bases; sizes come from the weight shapes.
TEST_F(SseRunTest, LayerMatchesFloat64Layer) {
  const index_t B = 2, T = 25;
  const std::vector<float> x = randn<float>(std::size_t(B * T * 20), 11);
  io::write_npy(in() + "/x.npy", x.data(), {B, T, 20});
  const std::vector<double> xd(x.begin(), x.end());
  const std::string weights = (root_ / "weights").string();

  SseLayerConfig gla = layer_config(true);
  gla.use_short_conv = true;
  gla.norm_eps = 1e-6;
  const Weights gla_weights = weights_for<GlaRule>(gla, 12);
  write_weights(gla_weights, weights);
  RunResult r =
      run_sse_run("layer --base gla --weights " + weights + " --heads 2 --v-heads 4 --in " + in() +
                  "/x.npy --out " + out() + " --short-conv --norm-eps 1e-6");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(rel_error(io::read_npy(out() + "/y.npy").to_vector<float>(),
                      reference::sse_layer<GlaRule>(gla, gla_weights, xd, B, T)),
            1e-5);

  fs::remove_all(weights);
  SseLayerConfig gdn = layer_config(false);
  gdn.use_output_gate = false;
  gdn.writers = gdn.readers = 2;
  const Weights gdn_weights = weights_for<GdnRule>(gdn, 13);
  write_weights(gdn_weights, weights);
  r = run_sse_run("layer --base gdn --weights " + weights + " --heads 2 --writers 2 --readers 2 " +
                  "--no-output-gate --in " + in() + "/x.npy --out " + out());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(rel_error(io::read_npy(out() + "/y.npy").to_vector<float>(),
                      reference::sse_layer<GdnRule>(gdn, gdn_weights, xd, B, T)),
            1e-5);
}

TEST_F(SseRunTest, LayerBadInputsExitTwoWithOneLineAndNoOutput) {
  const std::string weights = (root_ / "weights").string();
  const std::string gla = "layer --base gla --weights " + weights + " ";
  const std::string x = " --in " + (root_ / "x.npy").string() + " ";
  const std::vector<Bad> cases = {
      {"missing weight", [weights](SseRunTest&) { fs::remove(weights + "/gk_proj.1.1.bias.npy"); },
       gla + "--heads 2" + x, "gk_proj.1.1.bias.npy: missing"},
      {"wrong weight shape",
       [weights](SseRunTest&) {
         io::write_npy(weights + "/o_norm.weight.npy", std::vector<float>(9).data(), {9});
       },
       gla + "--heads 2" + x, "o_norm.weight.npy: expected shape [10], got [9]"},
      {"extra weight",
       [weights](SseRunTest&) {
         io::write_npy(weights + "/bias.npy", std::vector<float>(2).data(), {2});
       },
       gla + "--heads 2" + x, "bias.npy: unexpected key"},
      {"heads not dividing", [](SseRunTest&) {}, gla + "--heads 5" + x,
       "q_proj.weight.npy: 12 rows are not a multiple of --heads 5"},
      {"missing heads", [](SseRunTest&) {}, gla + x, "--heads is required"},
      {"x width",
       [this](SseRunTest&) {
         io::write_npy((root_ / "x.npy").string(), std::vector<float>(2 * 3 * 19).data(),
                       {2, 3, 19});
       },
       gla + "--heads 2" + x, "x.npy: expected shape [B,T,D] with D = 20"},
      {"writers > N", [](SseRunTest&) {}, gla + "--heads 2 --writers 4" + x,
       "--writers/--readers: expected 1 <= k <= N = 3"},
  };
  expect_rejected(
      cases,
      [this, weights] {
        fs::remove_all(weights);
        write_weights(weights_for<GlaRule>(layer_config(false), 14), weights);
        io::write_npy((root_ / "x.npy").string(), std::vector<float>(2 * 3 * 20, 0.5f).data(),
                      {2, 3, 20});
      },
      /*input_folder=*/false);
}

/// Writes an SSE-H model folder: config.json and model.safetensors.
void write_model(const std::string& dir, const HybridConfig& c, const Weights& weights) {
  fs::create_directories(dir);
  std::ofstream(dir + "/config.json")
      << "{\"hidden_size\": " << c.hidden_size << ", \"num_hidden_layers\": " << c.num_hidden_layers
      << ", \"num_heads\": " << c.num_heads << ", \"vocab_size\": " << c.vocab_size
      << ", \"head_dim\": " << c.head_dim
      << ", \"num_sparse_partition\": " << c.num_sparse_partition << ", \"linear_attn_type\": \""
      << c.linear_attn_type << "\", \"use_short_conv\": " << (c.use_short_conv ? "true" : "false")
      << ", \"tie_word_embeddings\": " << (c.tie_word_embeddings ? "true" : "false")
      << ", \"intermediate_size\": null, "
      << "\"norm_eps\": 1e-6, \"model_type\": \"sse\", \"attn\": {\"layers\": [1], "
      << "\"num_heads\": " << c.attn_num_heads << ", \"num_kv_heads\": " << c.attn_num_kv_heads
      << ", \"window_size\": null}}";
  std::vector<io::NamedTensor> tensors;
  for (const std::string& key : weights.keys()) {
    tensors.push_back({key, weights.at(key).shape, weights.at(key).data.data()});
  }
  io::write_safetensors(dir + "/model.safetensors", tensors);
}

// sse-run generate == the model's own greedy decoding; --logits holds the prompt's logits.
TEST_F(SseRunTest, GenerateMatchesTheModelsGreedyDecoding) {
  for (const char* type : {"gla", "gdn"}) {
    const HybridConfig c = small_model_config(type, std::string(type) == "gdn");
    const Weights weights = random_model_weights(c, 40, 21);
    const std::string dir = (root_ / "model").string();
    fs::remove_all(dir);
    write_model(dir, c, weights);
    const std::string logits_path = (root_ / "logits.npy").string();
    const RunOutput r = run_sse_run_capturing(
        "generate --model " + dir + " --tokens 3,14,15,9,26 --max-new 6 --logits " + logits_path);
    ASSERT_EQ(r.status, 0) << r.err;

    const HybridModel model(c, weights);
    const std::vector<std::int64_t> prompt = {3, 14, 15, 9, 26};
    std::vector<float> logits(5 * 50);
    auto cache = model.make_cache(1);
    model.forward({prompt.data(), {1, 5}}, {logits.data(), {1, 5, 50}}, &cache);
    EXPECT_LT(rel_error(io::read_npy(logits_path).to_vector<float>(), logits), 1e-6) << type;
    std::string expected;
    std::vector<float> step(50);
    const float* last = logits.data() + 4 * 50;
    for (int n = 0; n < 6; ++n) {
      const std::int64_t id = argmax_token(last, 50);
      expected += (n ? "," : "") + std::to_string(id);
      model.forward({&id, {1, 1}}, {step.data(), {1, 1, 50}}, &cache);
      last = step.data();
    }
    EXPECT_EQ(r.out, expected + "\n") << type;
    EXPECT_NE(r.err.find("per token"), std::string::npos) << r.err;
  }
}

TEST_F(SseRunTest, GenerateBadInputsExitTwo) {
  const HybridConfig c = small_model_config("gla", false);
  const std::string dir = (root_ / "model").string();
  write_model(dir, c, random_model_weights(c, 40, 22));
  struct Case {
    std::string args, expected;
  };
  const std::vector<Case> cases = {
      {"--model " + dir + " --tokens 1,50 --max-new 2", "--tokens: id 50 is not in [0, 50)"},
      {"--model " + dir + " --tokens 1,,2 --max-new 2", "--tokens: expected comma-separated"},
      {"--model " + dir + " --tokens 1", "--max-new is required"},
      {"--model " + (root_ / "nowhere").string() + " --tokens 1 --max-new 1",
       "config.json: cannot open file"},
  };
  for (const Case& bad : cases) {
    const RunOutput r = run_sse_run_capturing("generate " + bad.args);
    EXPECT_EQ(r.status, 2) << bad.args << ": " << r.err;
    EXPECT_NE(r.err.find(bad.expected), std::string::npos) << bad.args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  fs::remove(dir + "/model.safetensors");
  const RunOutput r = run_sse_run_capturing("generate --model " + dir + " --tokens 1 --max-new 1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("model.safetensors: cannot open file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sse::test
