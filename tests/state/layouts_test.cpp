// Converters between the canonical expanded state [S,1+N,H,K,V] and upstream's cache layouts.

#include "sse/state/layouts.hpp"

#include <vector>

#include <gtest/gtest.h>

#include "support/compare.hpp"
#include "support/random.hpp"

namespace sse::test {
namespace {

struct Dims {
  index_t S, N, H, K, V;
  std::size_t size() const { return std::size_t(S * (1 + N) * H * K * V); }
};

TEST(StateLayouts, MaskedPlacesStateNOfHeadHAtBlockNHPlusH) {
  const Dims d{2, 3, 2, 4, 5};
  const auto canonical = randn<float>(d.size(), 1);
  std::vector<float> masked = poisoned<float>(d.size()), back = poisoned<float>(d.size());
  const TensorView<const float, 5> c(canonical.data(), {d.S, 1 + d.N, d.H, d.K, d.V});
  const TensorView<float, 4> m(masked.data(), {d.S, (1 + d.N) * d.H, d.K, d.V});
  canonical_to_masked(c, m);
  for (index_t s = 0; s < d.S; ++s)
    for (index_t n = 0; n <= d.N; ++n)
      for (index_t h = 0; h < d.H; ++h)
        for (index_t i = 0; i < d.K; ++i)
          for (index_t j = 0; j < d.V; ++j) ASSERT_EQ(m(s, n * d.H + h, i, j), c(s, n, h, i, j));
  masked_to_canonical(TensorView<const float, 4>(m),
                      TensorView<float, 5>(back.data(), c.extents()));
  EXPECT_TRUE(same_bits(back, canonical));
}

TEST(StateLayouts, VarlenPutsSharedStatesFirstThenPartitionsBySequence) {
  const Dims d{3, 4, 2, 3, 6};
  const auto canonical = randn<double>(d.size(), 2);
  std::vector<double> varlen = poisoned<double>(d.size()), back = poisoned<double>(d.size());
  const TensorView<const double, 5> c(canonical.data(), {d.S, 1 + d.N, d.H, d.K, d.V});
  const TensorView<double, 4> v(varlen.data(), {d.S + d.S * d.N, d.H, d.K, d.V});
  canonical_to_varlen(c, v);
  for (index_t s = 0; s < d.S; ++s)
    for (index_t n = 0; n <= d.N; ++n)
      for (index_t h = 0; h < d.H; ++h)
        for (index_t i = 0; i < d.K; ++i)
          for (index_t j = 0; j < d.V; ++j) {
            const index_t row = n == 0 ? s : d.S + s * d.N + (n - 1);
            ASSERT_EQ(v(row, h, i, j), c(s, n, h, i, j)) << s << ' ' << n << ' ' << h;
          }
  varlen_to_canonical(TensorView<const double, 4>(v),
                      TensorView<double, 5>(back.data(), c.extents()));
  EXPECT_TRUE(same_bits(back, canonical));
}

TEST(StateLayouts, RejectMismatchedShapesAndWriteNothing) {
  const Dims d{2, 2, 2, 3, 3};
  const auto canonical = randn<float>(d.size(), 3);
  std::vector<float> out = poisoned<float>(d.size() + 64);
  const TensorView<const float, 5> c(canonical.data(), {d.S, 1 + d.N, d.H, d.K, d.V});
  try {
    canonical_to_varlen(c, TensorView<float, 4>(out.data(), {5, d.H, d.K, d.V}));
    FAIL() << "no exception";
  } catch (const sse::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "varlen: expected shape [S+S*N,H,K,V] = [6,2,3,3], got [5,2,3,3]");
  }
  try {
    canonical_to_masked(c, TensorView<float, 4>(out.data(), {d.S, 6, d.K, d.V}, {54, 9, 1, 3}));
    FAIL() << "no exception";
  } catch (const sse::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("masked: each [K,V] block must be contiguous"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(same_bits(out, poisoned<float>(d.size() + 64)));
}

}  // namespace
}  // namespace sse::test
