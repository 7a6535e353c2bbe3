#pragma once

// Drives sse-run as a user does: runs the built tool (SSE_RUN_PATH) with arguments, captures its
// exit status, stdout and stderr, and gives each test a fresh folder for .npy inputs and outputs,
// plus a table runner for bad inputs (exit status 2, one line on stderr, no output file).

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "sse/io/npy.hpp"

#include "support/scan_case.hpp"
#include "support/sse_case.hpp"
#include <sys/wait.h>
#include <unistd.h>

namespace sse::test {

namespace fs = std::filesystem;

struct RunResult {
  int status;
  std::string err;
};

inline RunResult run_sse_run(const std::string& args) {
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
inline RunOutput run_sse_run_capturing(const std::string& args) {
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

}  // namespace sse::test
