#include "sse/core/sequences.hpp"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace sse::test {
namespace {

TEST(Sequences, BatchRowsWithoutCuSeqlens) {
  const Sequences seqs(3, 10, {});
  EXPECT_FALSE(seqs.packed());
  EXPECT_EQ(seqs.count(), 3);
  EXPECT_EQ(seqs[2].batch, 2);
  EXPECT_EQ(seqs[2].begin, 0);
  EXPECT_EQ(seqs[2].length(), 10);
}

TEST(Sequences, PackedWithEmptySequences) {
  std::vector<std::int64_t> cu = {0, 0, 4, 4, 9};
  TensorView<const std::int64_t, 1> view(cu.data(), {5});
  EXPECT_TRUE(validate_cu_seqlens(view, 1, 9).ok());
  const Sequences seqs(1, 9, view);
  EXPECT_EQ(seqs.count(), 4);
  EXPECT_EQ(seqs[0].length(), 0);
  EXPECT_EQ(seqs[1].begin, 0);
  EXPECT_EQ(seqs[1].end, 4);
  EXPECT_EQ(seqs[3].begin, 4);
  EXPECT_EQ(seqs[3].length(), 5);
}

TEST(Sequences, RejectsBadCuSeqlens) {
  auto check = [](std::vector<std::int64_t> cu, index_t batch, index_t tokens, const char* what) {
    const Status s = validate_cu_seqlens({cu.data(), {index_t(cu.size())}}, batch, tokens);
    EXPECT_FALSE(s.ok()) << what;
    EXPECT_NE(s.message().find(what), std::string::npos) << s.message();
  };
  check({0, 5}, 2, 5, "need B = 1");
  check({0}, 1, 0, "S >= 1");
  check({2, 5}, 1, 5, "start at 0");
  check({0, 3, 2, 5}, 1, 5, "non-decreasing");
  check({0, 3, 4}, 1, 5, "end at T = 5, got 4");
  check({0, 3, 6}, 1, 5, "end at T = 5, got 6");
}

}  // namespace
}  // namespace sse::test
