// sse-run layer: one SSE layer from a folder of <key>.npy weights against the float64 layer, and
// its bad inputs.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/io/npy.hpp"
#include "sse/layers/weights.hpp"
#include "sse/reference/naive_layers.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "sse_run_fixture.hpp"
#include "support/compare.hpp"
#include "support/layer_weights.hpp"

namespace sse::test {
namespace {

namespace fs = std::filesystem;

/// Writes `weights` as DIR/<key>.npy files.
void write_weights(const Weights& weights, const std::string& dir) {
  fs::create_directories(dir);
  for (const std::string& key : weights.keys()) {
    const Parameter& p = weights.at(key);
    io::write_npy(dir + "/" + key + ".npy", p.data.data(), p.shape);
  }
}

SseLayerConfig layer_config(bool grouped) {
  SseLayerConfig c;
  c.hidden = 20, c.heads = 2, c.v_heads = grouped ? 4 : 2, c.head_dim = 6, c.value_dim = 10;
  c.partitions = 3;
  return c;
}

// sse-run layer == the float64 layer, both bases; sizes come from the weight shapes.
TEST_F(SseRunTest, LayerMatchesFloat64Layer) {
  const index_t B = 2, T = 25;
  const std::vector<float> x = randn<float>(std::size_t(B * T * 20), 11);
  io::write_npy(in() + "/x.npy", x.data(), {B, T, 20});
  const std::vector<double> xd(x.begin(), x.end());
  const std::string weights = (root_ / "weights").string();

  SseLayerConfig gla = layer_config(true);
  gla.use_short_conv = true;
  gla.norm_eps = 1e-6;
  const Weights gla_weights = weights_for<GlaRule>(gla, 12);
  write_weights(gla_weights, weights);
  RunResult r =
      run_sse_run("layer --base gla --weights " + weights + " --heads 2 --v-heads 4 --in " + in() +
                  "/x.npy --out " + out() + " --short-conv --norm-eps 1e-6");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(rel_error(io::read_npy(out() + "/y.npy").to_vector<float>(),
                      reference::sse_layer<GlaRule>(gla, gla_weights, xd, B, T)),
            1e-5);

  fs::remove_all(weights);
  SseLayerConfig gdn = layer_config(false);
  gdn.use_output_gate = false;
  gdn.writers = gdn.readers = 2;
  const Weights gdn_weights = weights_for<GdnRule>(gdn, 13);
  write_weights(gdn_weights, weights);
  r = run_sse_run("layer --base gdn --weights " + weights + " --heads 2 --writers 2 --readers 2 " +
                  "--no-output-gate --in " + in() + "/x.npy --out " + out());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(rel_error(io::read_npy(out() + "/y.npy").to_vector<float>(),
                      reference::sse_layer<GdnRule>(gdn, gdn_weights, xd, B, T)),
            1e-5);
}

TEST_F(SseRunTest, LayerBadInputsExitTwoWithOneLineAndNoOutput) {
  const std::string weights = (root_ / "weights").string();
  const std::string gla = "layer --base gla --weights " + weights + " ";
  const std::string x = " --in " + (root_ / "x.npy").string() + " ";
  const std::vector<Bad> cases = {
      {"missing weight", [weights](SseRunTest&) { fs::remove(weights + "/gk_proj.1.1.bias.npy"); },
       gla + "--heads 2" + x, "gk_proj.1.1.bias.npy: missing"},
      {"wrong weight shape",
       [weights](SseRunTest&) {
         io::write_npy(weights + "/o_norm.weight.npy", std::vector<float>(9).data(), {9});
       },
       gla + "--heads 2" + x, "o_norm.weight.npy: expected shape [10], got [9]"},
      {"extra weight",
       [weights](SseRunTest&) {
         io::write_npy(weights + "/bias.npy", std::vector<float>(2).data(), {2});
       },
       gla + "--heads 2" + x, "bias.npy: unexpected key"},
      {"heads not dividing", [](SseRunTest&) {}, gla + "--heads 5" + x,
       "q_proj.weight.npy: 12 rows are not a multiple of 5 heads"},
      {"missing heads", [](SseRunTest&) {}, gla + x, "--heads is required"},
      {"x width",
       [this](SseRunTest&) {
         io::write_npy((root_ / "x.npy").string(), std::vector<float>(2 * 3 * 19).data(),
                       {2, 3, 19});
       },
       gla + "--heads 2" + x, "x.npy: expected shape [B,T,D] with D = 20"},
      {"writers > N", [](SseRunTest&) {}, gla + "--heads 2 --writers 4" + x,
       "--writers/--readers: expected 1 <= k <= N = 3"},
  };
  expect_rejected(
      cases,
      [this, weights] {
        fs::remove_all(weights);
        write_weights(weights_for<GlaRule>(layer_config(false), 14), weights);
        io::write_npy((root_ / "x.npy").string(), std::vector<float>(2 * 3 * 20, 0.5f).data(),
                      {2, 3, 20});
      },
      /*input_folder=*/false);
}

}  // namespace
}  // namespace sse::test
