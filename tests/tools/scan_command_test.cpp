// sse-run scan: the float64 reference's results through .npy files, --repeat's timing line, and
// every bad input of DESIGN.md section 6 (exit status 2, one line naming the file, no output).

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/io/npy.hpp"
#include "sse/reference/naive_rules.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "sse_run_fixture.hpp"
#include "support/compare.hpp"

namespace sse::test {
namespace {

namespace fs = std::filesystem;

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

}  // namespace
}  // namespace sse::test
