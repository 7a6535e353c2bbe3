// Linear layers over weights in their stored precision (layers/linear.hpp) and the 16-bit
// widening they read through (simd/widen.hpp). Built into the kernel tests (with and without
// -march), since both forms are SIMD code: every bf16 and f16 bit pattern widens exactly as the
// scalar definitions do; y = x W^T + b matches float64 on the stored values for F32, BF16 and
// F16 weights, the dot form (M <= kLinearDotRows) and the panel form, strided rows, with and
// without bias; 1, 2 and 4 threads give the same bits; unwritten outputs stay NaN and fail.

#include "sse/layers/linear.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/core/bfloat16.hpp"
#include "sse/core/parallel.hpp"
#include "sse/io/safetensors.hpp"
#include "sse/simd/widen.hpp"

#include "support/compare.hpp"
#include "support/random.hpp"

namespace sse::test {
namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

/// Widens all 65536 patterns through widen_row (SIMD body and scalar tail: n = 65536 - 3) and
/// through the scalar Format::to_float; both must give `expected`'s bits.
template <class Format, class Expected>
void expect_every_pattern_widens_exactly(Expected expected) {
  std::vector<std::uint16_t> all(65536);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i);
  for (std::size_t n : {std::size_t{65536}, std::size_t{65533}}) {
    std::vector<float> out(n, std::nanf(""));
    simd::widen_row<Format>(default_arch{}, all.data(), out.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto h = static_cast<std::uint16_t>(i);
      ASSERT_EQ(bits_of(out[i]), bits_of(expected(h))) << "pattern 0x" << std::hex << i;
      ASSERT_EQ(bits_of(Format::to_float(h)), bits_of(expected(h))) << "0x" << std::hex << i;
    }
  }
}

TEST(Widen, EveryBfloat16PatternIsTheUpperHalfOfItsFloat) {
  expect_every_pattern_widens_exactly<simd::Bf16Bits>(
      [](std::uint16_t h) { return bfloat16{h}.to_float(); });
}

TEST(Widen, EveryHalfPatternMatchesTheScalarConversion) {
  // Zeros, subnormals, normals, the largest finite, infinities and NaN payloads alike.
  expect_every_pattern_widens_exactly<simd::F16Bits>(
      [](std::uint16_t h) { return io::detail::half_to_float(h); });
  EXPECT_EQ(simd::F16Bits::to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(simd::F16Bits::to_float(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(simd::F16Bits::to_float(0xfc00)));
}

/// A random weight [out, in] stored as `dtype` (16-bit values rounded from normal samples).
Parameter random_weight(io::TensorDType dtype, index_t out, index_t in, std::uint64_t seed) {
  const std::vector<float> values = randn<float>(std::size_t(out * in), seed, 0.5);
  Parameter p;
  p.shape = {out, in};
  p.dtype = dtype;
  if (dtype == io::TensorDType::kF32) {
    p.data = values;
    return p;
  }
  for (float v : values) {
    p.bits.push_back(dtype == io::TensorDType::kBF16 ? bfloat16::from_float(v).bits
                                                     : io::detail::float_to_half(v));
  }
  return p;
}

const char* name_of(io::TensorDType dtype) {
  return dtype == io::TensorDType::kF32 ? "F32" : dtype == io::TensorDType::kBF16 ? "BF16" : "F16";
}

struct LinearCase {
  index_t M, in, out;
};

TEST(Linear, MatchesFloat64OnTheStoredValuesInEveryPrecisionAndForm) {
  ThreadPool two(2), four(4);  // four: more workers than some calls have tasks
  SerialExecutor one;
  std::uint64_t seed = 100;
  for (io::TensorDType dtype :
       {io::TensorDType::kF32, io::TensorDType::kBF16, io::TensorDType::kF16}) {
    // M 1..4 take the dot form, M > 4 the panel form; `in` below, at and across whole batches
    // and pairs of batches of every ISA; `out` across kLinearPanelRows and the dot tasks.
    for (const LinearCase& c :
         {LinearCase{1, 1, 1}, LinearCase{1, 7, 5}, LinearCase{2, 33, 130}, LinearCase{3, 64, 9},
          LinearCase{4, 257, 300}, LinearCase{1, 2560, 700}, LinearCase{5, 31, 129},
          LinearCase{13, 96, 260}, LinearCase{130, 257, 3}, LinearCase{40, 1000, 300}}) {
      for (bool with_bias : {false, true}) {
        SCOPED_TRACE(std::string(name_of(dtype)) + " M=" + std::to_string(c.M) +
                     " in=" + std::to_string(c.in) + " out=" + std::to_string(c.out) +
                     (with_bias ? " bias" : "") + " seed=" + std::to_string(seed));
        const Parameter w = random_weight(dtype, c.out, c.in, ++seed);
        const std::vector<float> stored = w.to_float32();
        const std::vector<float> bias = randn<float>(std::size_t(c.out), ++seed);
        // Rows of x and y strided (slices of wider buffers): strides in + 3 and out + 2.
        const index_t x_stride = c.in + 3, y_stride = c.out + 2;
        const std::vector<float> x = randn<float>(std::size_t(c.M * x_stride), ++seed);
        std::vector<float> y1 = poisoned<float>(std::size_t(c.M * y_stride));
        std::vector<float> y2 = y1, y4 = y1;
        const ConstMatrixMap<float> xm(x.data(), c.M, c.in, Eigen::OuterStride<>(x_stride));
        const float* b = with_bias ? bias.data() : nullptr;
        linear(xm, w, b, MatrixMap<float>(y1.data(), c.M, c.out, Eigen::OuterStride<>(y_stride)),
               one);
        linear(xm, w, b, MatrixMap<float>(y2.data(), c.M, c.out, Eigen::OuterStride<>(y_stride)),
               two);
        linear(xm, w, b, MatrixMap<float>(y4.data(), c.M, c.out, Eigen::OuterStride<>(y_stride)),
               four);
        EXPECT_TRUE(same_bits(y1, y4)) << "1 vs 4 threads";
        std::vector<float> got;
        std::vector<double> ref;
        for (index_t r = 0; r < c.M; ++r) {
          for (index_t o = 0; o < c.out; ++o) {
            double s = with_bias ? bias[std::size_t(o)] : 0.0;
            for (index_t i = 0; i < c.in; ++i) {
              s += double(x[std::size_t(r * x_stride + i)]) * stored[std::size_t(o * c.in + i)];
            }
            ref.push_back(s);
            got.push_back(y1[std::size_t(r * y_stride + o)]);
            ASSERT_EQ(bits_of(y1[std::size_t(r * y_stride + o)]),
                      bits_of(y2[std::size_t(r * y_stride + o)]))
                << "1 vs 2 threads differ at row " << r << ", column " << o;
          }
          for (index_t o = c.out; o < y_stride && r + 1 < c.M; ++o) {
            ASSERT_TRUE(std::isnan(y1[std::size_t(r * y_stride + o)])) << "wrote past the row";
          }
        }
        EXPECT_LT(rel_error(got, ref), 2e-6);
      }
    }
  }
}

// Each row's dot product has one arithmetic whatever the number of rows (a speculative verify's
// rows equal decode steps): with kEachAsDecode, M rows give the bits of M one-row products,
// across whole and partial groups of rows; without it, up to kLinearDotRows rows do too.
TEST(Linear, EveryRowAsAloneInTheDotForm) {
  SerialExecutor one;
  std::uint64_t seed = 300;
  for (io::TensorDType dtype :
       {io::TensorDType::kF32, io::TensorDType::kBF16, io::TensorDType::kF16}) {
    for (index_t M : {2, 3, 5, 6, 7, 13}) {
      const index_t in = 203, out = 37;
      SCOPED_TRACE(std::string(name_of(dtype)) + " M=" + std::to_string(M));
      const Parameter w = random_weight(dtype, out, in, ++seed);
      const std::vector<float> x = randn<float>(std::size_t(M * in), ++seed);
      std::vector<float> together = poisoned<float>(std::size_t(M * out));
      const ConstMatrixMap<float> xm(x.data(), M, in, Eigen::OuterStride<>(in));
      const LinearRows form = M <= kLinearDotRows ? LinearRows::kAuto : LinearRows::kEachAsDecode;
      linear(xm, w, nullptr, MatrixMap<float>(together.data(), M, out, Eigen::OuterStride<>(out)),
             one, form);
      for (index_t r = 0; r < M; ++r) {
        std::vector<float> alone = poisoned<float>(std::size_t(out));
        linear(ConstMatrixMap<float>(x.data() + r * in, 1, in, Eigen::OuterStride<>(in)), w,
               nullptr, MatrixMap<float>(alone.data(), 1, out, Eigen::OuterStride<>(out)), one);
        EXPECT_TRUE(same_bits(alone, std::vector<float>(together.begin() + r * out,
                                                        together.begin() + (r + 1) * out)))
            << "row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace sse::test
