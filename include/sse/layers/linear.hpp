#pragma once

/// \file
/// Linear layers as upstream stores them: weight [out, in] (PyTorch's layout), optional bias
/// [out]; y = x W^T + b over rows of x; `detail::project` applies one by its weight key.
///
/// The weight stays in its stored precision (F32, BF16 or F16) and is widened to float32 in
/// registers as it is read; activations and sums are float32, so y equals the float32 product
/// with the stored values up to summation order. Output columns are split over the executor's
/// tasks and every output is summed by one task in a fixed order: the same bits for any thread
/// count. Two forms, by the number of rows M of x:
///
///   M <= kLinearDotRows (decode)  every weight row is streamed once and dotted with the M rows
///                                 of x (kDotGroupRows at a time, the row staying in L1): nothing
///                                 is packed or allocated, so a step runs at the memory bandwidth
///                                 (2 bytes a weight in 16 bits). Each row's dot product has
///                                 the same arithmetic whatever M is
///   M >  kLinearDotRows (prefill) a panel of kLinearPanelRows weight rows is widened into a
///                                 per-worker float32 buffer, then multiplied by Eigen's GEMM:
///                                 widening costs O(out x in) per call against O(M x out x in)
///
/// `LinearRows::kEachAsDecode` takes the dot form for any M: a speculative verify's rows then
/// get the bits of one-token decode steps.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sse/config.hpp"
#include "sse/core/matrix.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/prefetch.hpp"
#include "sse/core/shape.hpp"
#include "sse/layers/weights.hpp"
#include "sse/simd/row_ops.hpp"
#include "sse/simd/widen.hpp"

namespace sse {

/// Up to this many rows (a decode step's batch), `linear` takes one pass over the weights with
/// a dot product per output and row; more rows take the widened-panel GEMM.
inline constexpr index_t kLinearDotRows = 4;

/// Weight rows per GEMM panel: a task of the prefill form (1.3 MB of float32 for 2560-wide
/// rows). Outputs of 1024, 2560, 4096 and 9728 columns split into an even number of panels; 256
/// measured no faster. A constant, not a function of the thread count: Eigen's blocking may
/// depend on a product's width, and the bits must not depend on the threads.
inline constexpr index_t kLinearPanelRows = 128;

/// How `linear` treats the rows of x: kAuto picks the form by their number; kEachAsDecode
/// gives every row the arithmetic of a one-row (decode) product, whatever their number, still
/// streaming each weight row from memory once.
enum class LinearRows { kAuto, kEachAsDecode };

namespace detail {

/// Float32 weight rows, used as they are.
struct F32Rows {
  using Element = float;
  template <class Arch>
  static simd::Batch<float, Arch> load(Arch, const float* p) noexcept {
    return simd::Batch<float, Arch>::load_unaligned(p);
  }
  static float to_float(float x) noexcept { return x; }
};

/// 16-bit weight rows (simd::Bf16Bits or simd::F16Bits), widened in registers.
template <class BitsFormat>
struct HalfRows {
  using Element = std::uint16_t;
  using Bits = BitsFormat;
  template <class Arch>
  static simd::Batch<float, Arch> load(Arch arch, const std::uint16_t* p) noexcept {
    return simd::load_widened<BitsFormat>(arch, p);
  }
  static float to_float(std::uint16_t h) noexcept { return BitsFormat::to_float(h); }
};

/// Weight rows of a task of the dot form: about 256 KiB of weights, so two workers share even
/// a small projection and the task counter is touched rarely.
template <class Rows>
index_t dot_task_rows(index_t in) noexcept {
  const auto row_bytes =
      static_cast<index_t>(sizeof(typename Rows::Element)) * std::max<index_t>(in, 1);
  return std::max<index_t>(8, (index_t{1} << 18) / row_bytes);
}

/// Batches of a weight row per step of `dot_rows`: 4 independent FMA chains per row of x cover
/// the FMA latency, so that a row streams at the memory's pace. The same for every number of
/// rows, so that a row's sum has one order.
inline constexpr index_t kDotUnroll = 4;
/// Rows of x per pass of `dot_rows` over a weight row: 4 accumulators a row, the weight batch
/// and a row of x must fit the vector registers, 32 with AVX-512 (6 rows), 16 below it (2
/// rows). More rows take more passes, the weight row then in L1. A speculative verify's 5 rows
/// take one pass on AVX-512: each weight is loaded and widened once for all of them.
template <class Arch>
inline constexpr index_t kDotGroupRows = std::is_base_of_v<xsimd::avx512f, Arch> ? 6 : 2;
/// The most rows any architecture groups (`with_group_rows` dispatches up to it).
inline constexpr index_t kDotMaxGroupRows = 6;

/// How far ahead of its reads `dot_rows` asks for the weights: without the hint a core waits
/// for each line and then computes, and a row streams at about 2/3 of the read bandwidth.
inline constexpr std::size_t kDotPrefetchBytes = 4096;

/// Weight rows whose sums a block of the dot form carries at once, and the elements of x per
/// chunk: a chunk of up to kDotGroupRows rows of x (6 x 2 KiB) stays in L1 while the block's
/// weight rows go by, instead of the whole rows coming from L2 again for every weight row.
/// The chains' order is unchanged: a chunk is a whole number of steps.
inline constexpr index_t kDotBlockRows = 8;
inline constexpr index_t kDotChunk = 512;

/// The running sums of `dot_rows` for M rows of x: U accumulator batches (chains) per row.
template <index_t M, class Arch>
struct DotSums {
  using B = simd::Batch<float, Arch>;
  B acc[kDotUnroll][M];

  void zero() noexcept {
    for (index_t u = 0; u < kDotUnroll; ++u) {
      for (index_t r = 0; r < M; ++r) acc[u][r] = B(0.0f);
    }
  }

  /// Elements [from, to) of w and the rows of x (stride x_stride), in steps of U batches, one
  /// per chain; from and to are multiples of U batches.
  template <class Rows>
  SSE_ALWAYS_INLINE void steps(Arch arch, const typename Rows::Element* SSE_RESTRICT w,
                               const float* x, index_t x_stride, index_t from, index_t to,
                               std::size_t prefetch_bytes = kDotPrefetchBytes) noexcept {
    constexpr auto S = static_cast<index_t>(B::size);
    constexpr index_t U = kDotUnroll;
    B a[U][M];  // in registers (fully unrolled): x might alias the members, not a local
#pragma GCC unroll 4
    for (index_t u = 0; u < U; ++u) {
#pragma GCC unroll 8
      for (index_t r = 0; r < M; ++r) a[u][r] = acc[u][r];
    }
    for (index_t i = from; i < to; i += U * S) {
      prefetch(reinterpret_cast<const char*>(w + i) + prefetch_bytes, U * S * sizeof(*w));
#pragma GCC unroll 4
      for (index_t u = 0; u < U; ++u) {
        const B wu = Rows::load(arch, w + i + u * S);
#pragma GCC unroll 8
        for (index_t r = 0; r < M; ++r) {
          a[u][r] = xsimd::fma(wu, B::load_unaligned(x + r * x_stride + i + u * S), a[u][r]);
        }
      }
    }
#pragma GCC unroll 4
    for (index_t u = 0; u < U; ++u) {
#pragma GCC unroll 8
      for (index_t r = 0; r < M; ++r) acc[u][r] = a[u][r];
    }
  }

  /// The elements from `from` (past the last whole step) to n: single batches into the first
  /// chain, then the chains added in order, reduced, and the scalar tail: sums[0..M).
  template <class Rows>
  SSE_ALWAYS_INLINE void finish(Arch arch, const typename Rows::Element* w, const float* x,
                                index_t x_stride, index_t from, index_t n, float* sums) noexcept {
    constexpr auto S = static_cast<index_t>(B::size);
    index_t i = from;
    for (; i + S <= n; i += S) {
      const B w0 = Rows::load(arch, w + i);
      for (index_t r = 0; r < M; ++r) {
        acc[0][r] = xsimd::fma(w0, B::load_unaligned(x + r * x_stride + i), acc[0][r]);
      }
    }
    for (index_t r = 0; r < M; ++r) {
      for (index_t u = 1; u < kDotUnroll; ++u) acc[0][r] += acc[u][r];
      float sum = simd::reduce_sum(acc[0][r]);
      for (index_t j = i; j < n; ++j) sum += Rows::to_float(w[j]) * x[r * x_stride + j];
      sums[r] = sum;
    }
  }
};

/// `DotSums::steps` kept a call: a chunk's loop then holds the sums in registers (inlined
/// into the loop over a block's weight rows, it ran at 2/3 the speed).
template <class Rows, index_t M, class Arch>
SSE_NOINLINE void dot_chunk(DotSums<M, Arch>& sums, const typename Rows::Element* w, const float* x,
                            index_t x_stride, index_t from, index_t to) noexcept {
  // The next chunk of the same weight row: used a block later, still in L1 then.
  sums.template steps<Rows>(Arch{}, w, x, x_stride, from, to,
                            kDotChunk * sizeof(typename Rows::Element));
}

/// The elements of a row that whole steps of U batches cover.
template <class Arch>
index_t dot_steps_end(index_t n) noexcept {
  constexpr index_t step = kDotUnroll * static_cast<index_t>(simd::Batch<float, Arch>::size);
  return n - n % step;
}

/// sums[r] = w . x_r for the M rows of x (stride x_stride), n elements each: U chains per row
/// over steps of U batches, single batches into the first, then a scalar tail; the chains are
/// added in a fixed order. The same arithmetic for a row whatever M is.
template <index_t M, class Rows, class Arch>
inline void dot_rows(Arch arch, const typename Rows::Element* w, const float* x, index_t x_stride,
                     index_t n, float* sums) noexcept {
  DotSums<M, Arch> d;
  d.zero();
  const index_t steps_end = dot_steps_end<Arch>(n);
  d.template steps<Rows>(arch, w, x, x_stride, 0, steps_end);
  d.template finish<Rows>(arch, w, x, x_stride, steps_end, n, sums);
}

/// Calls f(std::integral_constant<index_t, count>) for count in 1..kDotMaxGroupRows.
template <class F>
inline void with_group_rows(index_t count, F&& f) {
  static_assert(kDotMaxGroupRows == 6, "with_group_rows dispatches 1 to 6 rows");
  switch (count) {
    case 1:
      return f(std::integral_constant<index_t, 1>{});
    case 2:
      return f(std::integral_constant<index_t, 2>{});
    case 3:
      return f(std::integral_constant<index_t, 3>{});
    case 4:
      return f(std::integral_constant<index_t, 4>{});
    case 5:
      return f(std::integral_constant<index_t, 5>{});
    default:
      return f(std::integral_constant<index_t, 6>{});
  }
}

/// The dot form for any number of rows of x. A task's weight rows go kDotBlockRows at a time;
/// for each group of kDotGroupRows rows of x, the block's sums run chunk by chunk of x (kept in
/// L1) when the group has more than 2 rows, else row by row. Each weight row is read from
/// memory once (again from L2 for a further group of rows).
template <class Rows>
inline void linear_dot(ConstMatrixMap<float> x, const typename Rows::Element* weight,
                       const float* bias, MatrixMap<float> y, Executor& executor) {
  using Arch = default_arch;
  constexpr index_t G = kDotGroupRows<Arch>;
  static_assert(G <= kDotMaxGroupRows, "with_group_rows runs at most kDotMaxGroupRows rows");
  static_assert(kDotChunk % (kDotUnroll * 16) == 0, "a chunk is a whole number of steps");
  const index_t in = x.cols(), out = y.cols(), M = x.rows(), task_rows = dot_task_rows<Rows>(in);
  const index_t stride = x.outerStride(), steps_end = dot_steps_end<Arch>(in);
  const auto tasks = static_cast<std::size_t>((out + task_rows - 1) / task_rows);
  auto task = [&](std::size_t t, std::size_t) {
    const index_t o0 = static_cast<index_t>(t) * task_rows, o1 = std::min(out, o0 + task_rows);
    for (index_t b0 = o0; b0 < o1; b0 += kDotBlockRows) {
      const index_t block = std::min(kDotBlockRows, o1 - b0);
      for (index_t r = 0; r < M; r += G) {
        const float* xr = x.data() + r * stride;
        with_group_rows(std::min(G, M - r), [&](auto rows) {
          constexpr index_t R = decltype(rows)::value;
          if constexpr (R <= 2) {  // x's rows fit L1 beside a weight row: row by row
            for (index_t k = 0; k < block; ++k) {
              float row_sums[R];
              const index_t o = b0 + k;
              dot_rows<R, Rows>(Arch{}, weight + o * in, xr, stride, in, row_sums);
              const float b = bias != nullptr ? bias[o] : 0.0f;
              for (index_t i = 0; i < R; ++i) y(r + i, o) = row_sums[i] + b;
            }
            return;
          }
          DotSums<R, Arch> sums[kDotBlockRows];
          for (index_t k = 0; k < block; ++k) sums[k].zero();
          for (index_t c0 = 0; c0 < steps_end; c0 += kDotChunk) {
            const index_t c1 = std::min(steps_end, c0 + kDotChunk);
            for (index_t k = 0; k < block; ++k) {
              dot_chunk<Rows>(sums[k], weight + (b0 + k) * in, xr, stride, c0, c1);
            }
          }
          for (index_t k = 0; k < block; ++k) {
            const index_t o = b0 + k;
            float row_sums[R];
            sums[k].template finish<Rows>(Arch{}, weight + o * in, xr, stride, steps_end, in,
                                          row_sums);
            const float b = bias != nullptr ? bias[o] : 0.0f;
            for (index_t i = 0; i < R; ++i) y(r + i, o) = row_sums[i] + b;
          }
        });
      }
    }
  };
  executor.parallel_for(tasks, task);
}

/// The widened-panel GEMM form (any M).
template <class Rows>
inline void linear_panels(ConstMatrixMap<float> x, const typename Rows::Element* weight,
                          const float* bias, MatrixMap<float> y, Executor& executor) {
  constexpr bool kWiden = !std::is_same_v<typename Rows::Element, float>;
  const index_t in = x.cols(), out = y.cols(), rows = y.rows();
  const auto tasks = static_cast<std::size_t>((out + kLinearPanelRows - 1) / kLinearPanelRows);
  const auto panel_floats = static_cast<std::size_t>(kLinearPanelRows * in);
  // One panel per worker, uninitialised (each task overwrites what it reads; the pages of
  // workers that take no task are never touched).
  const std::unique_ptr<float[]> panels(kWiden ? new float[executor.concurrency() * panel_floats]
                                               : nullptr);
  auto task = [&](std::size_t t, std::size_t worker) {
    const index_t o0 = static_cast<index_t>(t) * kLinearPanelRows;
    const index_t n = std::min(kLinearPanelRows, out - o0);
    const float* w = nullptr;
    if constexpr (kWiden) {
      float* panel = panels.get() + worker * panel_floats;
      for (index_t o = 0; o < n; ++o) {
        simd::widen_row<typename Rows::Bits>(default_arch{}, weight + (o0 + o) * in, panel + o * in,
                                             static_cast<std::size_t>(in));
      }
      w = panel;
    } else {
      w = weight + o0 * in;
    }
    auto block = y.middleCols(o0, n);
    block.noalias() = x * ConstMatrixMap<float>(w, n, in, Eigen::OuterStride<>(in)).transpose();
    if (bias != nullptr) {
      for (index_t r = 0; r < rows; ++r) {
        for (index_t c = 0; c < n; ++c) block(r, c) += bias[o0 + c];
      }
    }
  };
  executor.parallel_for(tasks, task);
}

template <class Rows>
inline void linear_rows(ConstMatrixMap<float> x, const typename Rows::Element* weight,
                        const float* bias, MatrixMap<float> y, Executor& executor,
                        LinearRows form) {
  if (x.rows() == 0) return;
  if (x.rows() <= kLinearDotRows || form == LinearRows::kEachAsDecode) {
    linear_dot<Rows>(x, weight, bias, y, executor);
  } else {
    linear_panels<Rows>(x, weight, bias, y, executor);
  }
}

}  // namespace detail

/// y [M, out] = x [M, in] W^T (+ bias [out]) for a weight [out, in] in its stored precision.
/// Rows of x and y may be strided (slices of wider buffers). Allocates nothing for
/// M <= kLinearDotRows or with kEachAsDecode; above, one panel buffer per worker for 16-bit
/// weights, and Eigen's packing buffers.
inline void linear(ConstMatrixMap<float> x, const Parameter& weight, const float* bias,
                   MatrixMap<float> y, Executor& executor, LinearRows form = LinearRows::kAuto) {
  SSE_DASSERT(weight.shape.size() == 2 && weight.shape[0] == y.cols() &&
              weight.shape[1] == x.cols() && x.rows() == y.rows());
  switch (weight.dtype) {
    case io::TensorDType::kBF16:
      return detail::linear_rows<detail::HalfRows<simd::Bf16Bits>>(x, weight.bits.data(), bias, y,
                                                                   executor, form);
    case io::TensorDType::kF16:
      return detail::linear_rows<detail::HalfRows<simd::F16Bits>>(x, weight.bits.data(), bias, y,
                                                                  executor, form);
    default:
      return detail::linear_rows<detail::F32Rows>(x, weight.data.data(), bias, y, executor, form);
  }
}

namespace detail {

/// x [rows, D] through weight [out, D] (and bias) into y [rows, out].
inline void project(const Weights& w, std::string_view key, ConstMatrixMap<float> x, float* y,
                    index_t out, Executor& executor, std::string_view bias_key = {},
                    LinearRows form = LinearRows::kAuto) {
  linear(x, w.at(key), bias_key.empty() ? nullptr : w.at(bias_key).data.data(),
         MatrixMap<float>(y, x.rows(), out, Eigen::OuterStride<>(out)), executor, form);
}

inline ConstMatrixMap<float> rows_of(const float* x, index_t rows, index_t cols) {
  return {x, rows, cols, Eigen::OuterStride<>(cols)};
}

}  // namespace detail

}  // namespace sse
