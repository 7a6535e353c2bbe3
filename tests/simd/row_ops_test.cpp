// Row primitives (simd/row_ops.hpp) against scalar loops, for lengths straddling every SIMD
// width: the vector body and the scalar tail both run.

#include "sse/simd/row_ops.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "sse/config.hpp"

#include "support/random.hpp"

namespace sse::test {
namespace {

template <class T>
class RowOpsTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RowOpsTest, Types);

constexpr std::size_t kLengths[] = {0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 64, 129};

TYPED_TEST(RowOpsTest, MatchScalarLoops) {
  using T = TypeParam;
  const default_arch arch{};
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-14;
  for (std::size_t n : kLengths) {
    const auto x = randn<T>(n, 1 + n), y0 = randn<T>(n, 2 + n);
    const auto g = uniform<T>(n, 3 + n, -5.0, 0.0);
    SCOPED_TRACE("n=" + std::to_string(n) + " arch=" + default_arch::name());

    double dot = 0, dot_exp = 0;
    for (std::size_t i = 0; i < n; ++i) {
      dot += double(x[i]) * y0[i];
      dot_exp += double(x[i]) * y0[i] * std::exp(double(g[i]));
    }
    EXPECT_NEAR(simd::dot(arch, x.data(), y0.data(), n), dot, tol * (1 + std::abs(dot)) * 10);
    EXPECT_NEAR(simd::dot_exp(arch, x.data(), y0.data(), g.data(), n), dot_exp,
                tol * (1 + std::abs(dot_exp)) * 10);

    auto y = y0;
    simd::decay_axpy(arch, T(0.75), T(-2), x.data(), y.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], 0.75 * y0[i] - 2 * x[i], tol * 8) << i;

    std::vector<T> out(n, T(-7));
    simd::mul_exp(arch, x.data(), g.data(), out.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_NEAR(out[i], x[i] * std::exp(double(g[i])), tol * 4 * (1 + std::abs(x[i]))) << i;
    }
    simd::exp(arch, g.data(), out.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(out[i], std::exp(double(g[i])), tol * 4) << i;
    simd::mul(arch, x.data(), y0.data(), out.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(out[i], double(x[i]) * y0[i], tol * 8) << i;
    simd::scale(arch, T(3), x.data(), out.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(out[i], 3.0 * x[i], tol * 8) << i;
    y = y0;
    simd::add(arch, x.data(), y.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], double(y0[i]) + x[i], tol * 8) << i;
    simd::plus(arch, x.data(), y0.data(), out.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(out[i], double(x[i]) + y0[i], tol * 8) << i;
    y = y0;
    simd::scale_in_place(arch, T(-0.5), y.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], -0.5 * y0[i], tol * 4) << i;

    if (n > 0) {
      simd::l2_normalize_scaled(arch, T(2), T(1e-6), x.data(), out.data(), n);
      double norm = 0;
      for (std::size_t i = 0; i < n; ++i) norm += double(x[i]) * x[i];
      for (std::size_t i = 0; i < n; ++i) {
        EXPECT_NEAR(out[i], 2 * x[i] / std::sqrt(norm + 1e-6), tol * 8) << i;
      }
    }
  }
}

}  // namespace
}  // namespace sse::test
