// The row-level sparse update (rules/row_sparse_key.hpp, GlaRule::step_rows; DESIGN.md
// section 2b) through sse::scan and sse::sse_attention, against the float64 reference.

#include "sse/rules/row_sparse_key.hpp"

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/attention/sse_attention.hpp"
#include "sse/kernels/scan.hpp"
#include "sse/reference/naive_rules.hpp"
#include "sse/reference/naive_sse.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/compare.hpp"
#include "support/scan_case.hpp"
#include "support/sse_case.hpp"

namespace sse::test {
namespace {

template <class T>
class RowSparseKeyTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RowSparseKeyTest, Types);

// The selection: top-r rows by logit, ties to the lower row; values a softmax over them, scaled.
TEST(RowSparseKey, SelectsTopRowsWithSoftmaxValues) {
  const std::vector<float> z = {0.5f, 2.0f, -1.0f, 2.0f, 0.0f};
  std::vector<index_t> rows(3);
  std::vector<float> values(3);
  select_key_rows(z.data(), 5, 0.5f, RowSparseKey<float>{rows.data(), values.data(), 3});
  EXPECT_EQ(rows, (std::vector<index_t>{1, 3, 0}));
  const double sum = 2 * std::exp(2.0) + std::exp(0.5);
  EXPECT_NEAR(values[0], 0.5 * std::exp(2.0) / sum, 1e-7);
  EXPECT_NEAR(values[1], 0.5 * std::exp(2.0) / sum, 1e-7);
  EXPECT_NEAR(values[2], 0.5 * std::exp(0.5) / sum, 1e-7);
}

// scan with key_rows = r: both forms == reference, for r = 1, a few, and K (the dense softmax
// key with unmasked decay).
TYPED_TEST(RowSparseKeyTest, ScanMatchesReference) {
  using T = TypeParam;
  std::uint64_t seed = 10;
  for (const ScanShape& shape : {ScanShape{1, 150, 2, 16, 12, {}}, ScanShape{2, 70, 1, 7, 9, {}},
                                 ScanShape{1, 90, 2, 33, 5, {0, 1, 1, 40, 90}}}) {
    for (index_t r : {index_t(1), index_t(3), shape.K}) {
      ScanCase<GlaRule, T> c(shape, seed += 7);
      ScanOptions opt;
      opt.key_rows = r;
      const auto ref = reference::scan<GlaRule>(c.inputs(), opt);
      for (Mode mode : {Mode::kChunk, Mode::kRecurrent}) {
        opt.mode = mode;
        c.poison();
        scan<GlaRule>(c.inputs(), c.outputs(), opt);
        EXPECT_LT(rel_error(c.o, ref.o), tolerance<T>()) << shape << " r=" << r << " " << int(mode);
        EXPECT_LT(rel_error(c.ht, ref.ht), tolerance<T>())
            << shape << " r=" << r << " " << int(mode);
      }
    }
  }
}

// One token touches only its r rows: the other rows of the state keep h0 bit for bit.
TEST(RowSparseKey, UnselectedRowsAreNeitherWrittenNorDecayed) {
  const index_t K = 16, V = 8, r = 2;
  ScanCase<GlaRule, float> c(ScanShape{1, 1, 1, K, V, {}}, 3, GateRange{-2.0, -0.5});
  for (index_t i = 0; i < K; ++i) c.k[std::size_t(i)] = float(i % 5);  // rows 4 and 9 win
  ScanOptions opt;
  opt.key_rows = r;
  opt.mode = Mode::kRecurrent;
  scan<GlaRule>(c.inputs(), c.outputs(), opt);
  for (index_t row = 0; row < K; ++row) {
    const bool selected = row == 4 || row == 9;
    const bool same = std::memcmp(c.ht.data() + row * V, c.h0.data() + row * V,
                                  std::size_t(V) * sizeof(float)) == 0;
    EXPECT_EQ(same, !selected) << "row " << row;
  }
}

// In both SSE branches, on both paths, with emulk on and off and writers != readers.
TYPED_TEST(RowSparseKeyTest, AttentionMatchesReference) {
  using T = TypeParam;
  const SseShape shape{1, 140, 2, 12, 10, 4, {}};
  std::uint64_t seed = 50;
  for (auto [kw, kr] : {std::pair{1, 1}, std::pair{2, 2}, std::pair{1, 3}}) {
    for (bool emulk : {true, false}) {
      SseCase<GlaRule, T> c(shape, seed += 13, kw, kr);
      AttentionOptions opt = c.options();
      opt.key_rows = 3;
      opt.emulk = emulk;
      const auto ref = reference::sse_attention<GlaRule>(c.inputs(), opt);
      for (Path path : {Path::kMasked, Path::kSparse}) {
        if (path == Path::kSparse && kw != kr) continue;
        for (Mode mode : {Mode::kChunk, Mode::kRecurrent}) {
          opt.path = path;
          opt.mode = mode;
          c.poison();
          sse_attention<GlaRule>(c.inputs(), c.outputs(), opt);
          const std::string what = "KW=" + std::to_string(kw) + " KR=" + std::to_string(kr) +
                                   " emulk=" + std::to_string(emulk) +
                                   " path=" + std::to_string(int(path)) +
                                   " mode=" + std::to_string(int(mode));
          EXPECT_LT(rel_error(c.o, ref.o), tolerance<T>()) << what;
          EXPECT_LT(rel_error(c.ht, ref.ht), tolerance<T>()) << what;
        }
      }
    }
  }
}

TEST(RowSparseKey, BadOptionsAreRejected) {
  ScanCase<GlaRule, float> gla(ScanShape{1, 10, 1, 8, 4, {}}, 4);
  ScanOptions opt;
  opt.key_rows = 9;
  EXPECT_EQ(validate_scan(gla.inputs(), gla.outputs(), opt).message(),
            "key_rows: expected 0 (dense keys) or 1 <= r <= K = 8, got 9");
  opt.key_rows = 2;
  gla.k[5] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(validate_scan(gla.inputs(), gla.outputs(), opt).message(),
            "k: element [0,0,0,5] = inf is not a finite key logit (key_rows is on)");

  ScanCase<GdnRule, float> gdn(ScanShape{1, 10, 1, 8, 4, {}}, 4);
  EXPECT_NE(validate_scan(gdn.inputs(), gdn.outputs(), opt)
                .message()
                .find("key_rows: the gdn rule has no row-level sparse update"),
            std::string::npos);

  SseCase<GlaRule, float> sse(SseShape{1, 10, 1, 8, 4, 3, {}}, 5);
  AttentionOptions attention = sse.options();
  attention.key_rows = 2;
  sse.k2[9] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(validate_sse_attention(sse.inputs(), sse.outputs(), attention).message(),
            "k2: element [0,1,0,1] = nan is not a finite key logit (key_rows is on)");
}

}  // namespace
}  // namespace sse::test
