// sse::bfloat16 (core/bfloat16.hpp): rounding to nearest even, special values, exact widening.

#include "sse/core/bfloat16.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace sse::test {
namespace {

float from_bits(std::uint32_t u) {
  float x = 0;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

TEST(Bfloat16, RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
  EXPECT_EQ(bfloat16::from_float(1.0f + 0x1p-8f).bits, 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one.
  EXPECT_EQ(bfloat16::from_float(1.0f + 3 * 0x1p-8f).bits, 0x3f82);
  // Just above halfway rounds up.
  EXPECT_EQ(bfloat16::from_float(from_bits(0x3f808001u)).bits, 0x3f81);
  EXPECT_EQ(bfloat16::from_float(-2.5f).to_float(), -2.5f);
}

TEST(Bfloat16, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(bfloat16::from_float(inf).to_float(), inf);
  EXPECT_EQ(bfloat16::from_float(-inf).to_float(), -inf);
  EXPECT_TRUE(std::isnan(bfloat16::from_float(std::nanf("")).to_float()));
  // A NaN whose payload sits only in the low 16 bits must not become infinity.
  EXPECT_TRUE(std::isnan(bfloat16::from_float(from_bits(0x7f800001u)).to_float()));
  // The largest finite float rounds to infinity, as IEEE rounding does.
  EXPECT_EQ(bfloat16::from_float(std::numeric_limits<float>::max()).to_float(), inf);
  EXPECT_EQ(bfloat16::from_float(-0.0f).bits, 0x8000);
}

TEST(Bfloat16, NarrowIsWithinHalfAnUlpAndWidenIsExact) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 100.0f);
  std::vector<float> x(1000);
  for (float& e : x) e = normal(rng);
  std::vector<bfloat16> y(x.size());
  narrow(x.data(), y.data(), x.size());
  std::vector<float> back(x.size());
  widen(y.data(), back.data(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_LE(std::abs(back[i] - x[i]), std::abs(x[i]) * 0x1p-8f) << x[i];
    EXPECT_EQ(back[i], y[i].to_float());
    EXPECT_EQ(to_compute(y[i]), back[i]);
  }
  // Round trip of a value that is already a bfloat16.
  std::vector<bfloat16> again(x.size());
  narrow(back.data(), again.data(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(again[i].bits, y[i].bits);
}

}  // namespace
}  // namespace sse::test
