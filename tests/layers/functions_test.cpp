// The layers' building blocks against float64 definitions: activations (including their
// extreme arguments), RMSNorm and its gated form, the SwiGLU MLP (linear layers:
// linear_test.cpp).

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "sse/layers/activations.hpp"
#include "sse/layers/mlp.hpp"
#include "sse/layers/norm.hpp"

#include "support/compare.hpp"
#include "support/random.hpp"

namespace sse::test {
namespace {

TEST(Activations, MatchFloat64DefinitionsAndStayFinite) {
  for (double x : {-100.0, -30.0, -20.5, -3.0, -1e-3, 0.0, 1e-3, 2.0, 19.5, 20.5, 60.0, 100.0}) {
    const auto xf = float(x);
    const double sig = 1.0 / (1.0 + std::exp(-x));
    EXPECT_NEAR(sigmoid(xf), sig, 1e-7 * std::max(1.0, sig)) << x;
    EXPECT_NEAR(silu(xf), x * sig, 1e-6 * std::max(1.0, std::abs(x))) << x;
    const double sp = x > 20 ? x : std::log1p(std::exp(x));
    EXPECT_NEAR(softplus(xf), sp, 1e-6 * std::max(1.0, sp)) << x;
    const double ls = -std::log1p(std::exp(-x));
    EXPECT_NEAR(logsigmoid(xf), ls, 1e-6 * std::max(1.0, std::abs(ls))) << x;
    EXPECT_TRUE(std::isfinite(logsigmoid(xf)) && std::isfinite(softplus(xf))) << x;
  }
  EXPECT_GT(sigmoid(-100.0f), 0.0f);  // exp(-100) ~ 4e-44: a subnormal, not zero
}

TEST(Norms, RmsNormAndGatedFormMatchDefinition) {
  const std::size_t n = 37;
  const std::vector<float> x = randn<float>(n, 1), w = randn<float>(n, 2), z = randn<float>(n, 3);
  std::vector<float> out(n), gated(n);
  rms_norm_row(x.data(), w.data(), 1e-5f, out.data(), n);
  gated_rms_norm_row(x.data(), z.data(), w.data(), 1e-5f, gated.data(), n);
  double ms = 0;
  for (float e : x) ms += double(e) * e;
  const double inv = 1.0 / std::sqrt(ms / n + 1e-5);
  std::vector<double> ref(n), ref_gated(n);
  for (std::size_t i = 0; i < n; ++i) {
    ref[i] = x[i] * inv * w[i];
    ref_gated[i] = ref[i] * z[i] / (1.0 + std::exp(-double(z[i])));
  }
  EXPECT_LT(rel_error(out, ref), 1e-6);
  EXPECT_LT(rel_error(gated, ref_gated), 1e-6);
}

TEST(SwiGluMlp, MatchesFloat64) {
  const index_t M = 4, D = 12, I = 20;
  Weights weights;
  const auto gate = randn<float>(std::size_t(I * D), 7), up = randn<float>(std::size_t(I * D), 8),
             down = randn<float>(std::size_t(D * I), 9);
  weights.add("gate_proj.weight", {I, D}, gate);
  weights.add("up_proj.weight", {I, D}, up);
  weights.add("down_proj.weight", {D, I}, down);
  ASSERT_TRUE(check_parameters(weights, SwiGluMlp::parameters(D, I)).ok());
  const SwiGluMlp mlp(weights, D, I);
  const std::vector<float> x = randn<float>(std::size_t(M * D), 10);
  std::vector<float> y = poisoned<float>(std::size_t(M * D)), scratch(mlp.scratch_size(M));
  SerialExecutor serial;
  mlp.forward(ConstMatrixMap<float>(x.data(), M, D, Eigen::OuterStride<>(D)),
              MatrixMap<float>(y.data(), M, D, Eigen::OuterStride<>(D)), scratch.data(), serial);
  std::vector<double> ref(std::size_t(M * D), 0.0);
  for (index_t r = 0; r < M; ++r) {
    std::vector<double> h(static_cast<std::size_t>(I));
    for (index_t j = 0; j < I; ++j) {
      double g = 0, u = 0;
      for (index_t i = 0; i < D; ++i) {
        g += double(x[std::size_t(r * D + i)]) * gate[std::size_t(j * D + i)];
        u += double(x[std::size_t(r * D + i)]) * up[std::size_t(j * D + i)];
      }
      h[std::size_t(j)] = g / (1.0 + std::exp(-g)) * u;
    }
    for (index_t c = 0; c < D; ++c) {
      for (index_t j = 0; j < I; ++j)
        ref[std::size_t(r * D + c)] += h[std::size_t(j)] * down[std::size_t(c * I + j)];
    }
  }
  EXPECT_LT(rel_error(y, ref), 1e-5);
}

}  // namespace
}  // namespace sse::test
