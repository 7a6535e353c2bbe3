#pragma once

/// \file
/// The SwiGLU MLP of SSE-H blocks (DESIGN.md section 4), upstream names:
///
///   y = down_proj( silu(gate_proj(x)) * up_proj(x) )
///   gate_proj, up_proj: [I, D]; down_proj: [D, I]; no biases

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "sse/layers/activations.hpp"
#include "sse/layers/linear.hpp"
#include "sse/layers/weights.hpp"

namespace sse {

class SwiGluMlp {
 public:
  /// Elements of silu(gate) * up per task.
  static constexpr index_t kGatePiece = 16384;

  /// The keys and shapes this MLP takes, for check_parameters.
  static std::vector<ParameterSpec> parameters(index_t hidden, index_t intermediate) {
    return {{"gate_proj.weight", {intermediate, hidden}},
            {"up_proj.weight", {intermediate, hidden}},
            {"down_proj.weight", {hidden, intermediate}}};
  }

  /// Moves the three weights out of validated `weights` (see parameters()).
  SwiGluMlp(Weights weights, index_t hidden, index_t intermediate)
      : hidden_(hidden),
        intermediate_(intermediate),
        gate_(*weights.take("gate_proj.weight")),
        up_(*weights.take("up_proj.weight")),
        down_(*weights.take("down_proj.weight")) {}

  index_t hidden() const noexcept { return hidden_; }
  index_t intermediate() const noexcept { return intermediate_; }
  /// Bytes the weights take in memory (in their stored precision).
  std::size_t weight_bytes() const noexcept { return gate_.bytes() + up_.bytes() + down_.bytes(); }
  /// Calls f(parameter) for the three matrices.
  template <class F>
  void for_each_matrix(F&& f) const {
    f(gate_);
    f(up_);
    f(down_);
  }
  /// Scratch elements forward() needs for `rows` rows.
  std::size_t scratch_size(index_t rows) const noexcept {
    return static_cast<std::size_t>(2 * rows * intermediate_);
  }

  /// y [rows, D] = the MLP of x [rows, D]; `scratch` holds scratch_size(rows) floats. The three
  /// products split their output columns over `executor` (`form` as `linear` takes it).
  void forward(ConstMatrixMap<float> x, MatrixMap<float> y, float* scratch, Executor& executor,
               LinearRows form = LinearRows::kAuto) const {
    const index_t rows = x.rows();
    MatrixMap<float> gate(scratch, rows, intermediate_, Eigen::OuterStride<>(intermediate_));
    MatrixMap<float> up(scratch + rows * intermediate_, rows, intermediate_,
                        Eigen::OuterStride<>(intermediate_));
    linear(x, gate_, nullptr, gate, executor, form);
    linear(x, up_, nullptr, up, executor, form);
    // silu(gate) * up, elementwise, in pieces of kGatePiece over the executor.
    const index_t n = rows * intermediate_;
    float* g = gate.data();
    const float* u = up.data();
    auto gating = [&](std::size_t piece, std::size_t) {
      const index_t first = static_cast<index_t>(piece) * kGatePiece;
      const index_t last = std::min(n, first + kGatePiece);
      for (index_t i = first; i < last; ++i) g[i] = silu(g[i]) * u[i];
    };
    executor.parallel_for(static_cast<std::size_t>((n + kGatePiece - 1) / kGatePiece), gating);
    linear(ConstMatrixMap<float>(gate.data(), rows, intermediate_,
                                 Eigen::OuterStride<>(intermediate_)),
           down_, nullptr, y, executor, form);
  }

 private:
  index_t hidden_, intermediate_;
  Parameter gate_, up_, down_;  // in their stored precision
};

}  // namespace sse
