// A checkpoint saved by upstream's own code (tests/data/README.md): the model loads from the
// folder as upstream wrote it and reproduces upstream's prompt logits, its greedy ids and the
// logits of every decode step.

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/core/parallel.hpp"
#include "sse/io/npy.hpp"
#include "sse/layers/hybrid_model.hpp"

#include "support/compare.hpp"

namespace sse::test {
namespace {

const std::string kSseH = std::string(SSE_TEST_DATA_DIR) + "/upstream/sseh_public";

std::vector<std::int64_t> read_ids(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::int64_t> ids;
  std::string item;
  while (std::getline(file, item, ',')) ids.push_back(std::stoll(item));
  return ids;
}

/// Rows [first, first + count) of a [rows, width] array.
std::vector<float> rows_of(const std::vector<float>& all, index_t width, index_t first,
                           index_t count) {
  return {all.begin() + first * width, all.begin() + (first + count) * width};
}

TEST(UpstreamCheckpoint, FlaSseHReproducesPromptLogitsAndGreedyDecoding) {
  const HybridModel model = load_hybrid_model(kSseH);
  const HybridConfig& c = model.config();
  ASSERT_EQ(c.expand_v, 1.0);  // written as 1.0 by upstream
  ASSERT_EQ(c.sse_layer().value_dim, 32);

  const std::vector<std::int64_t> prompt = read_ids(kSseH + "/prompt.txt");
  const std::vector<std::int64_t> expected_ids = read_ids(kSseH + "/generated.txt");
  const io::NpyArray prompt_logits = io::read_npy(kSseH + "/logits.npy");
  const io::NpyArray step_logits = io::read_npy(kSseH + "/gen_logits.npy");
  const auto T = static_cast<index_t>(prompt.size()), V = c.vocab_size;
  const auto N = static_cast<index_t>(expected_ids.size());
  ASSERT_EQ(prompt_logits.shape, (std::vector<index_t>{T, V}));
  ASSERT_EQ(step_logits.shape, (std::vector<index_t>{N, V}));
  const std::vector<float> upstream_prompt = prompt_logits.to_vector<float>();
  const std::vector<float> upstream_steps = step_logits.to_vector<float>();

  for (const std::size_t threads : {std::size_t(1), std::size_t(2)}) {
    ThreadPool pool(threads);
    // One forward without a cache, as upstream computed logits.npy.
    std::vector<float> logits = poisoned<float>(std::size_t(T * V));
    model.forward({prompt.data(), {1, T}}, {logits.data(), {1, T, V}}, nullptr, pool);
    EXPECT_LT(rel_error(logits, upstream_prompt), 1e-4) << threads << " threads";

    // Prefill through the cache, then greedy decode one token per step.
    auto cache = model.make_cache(1);
    logits = poisoned<float>(std::size_t(T * V));
    model.forward({prompt.data(), {1, T}}, {logits.data(), {1, T, V}}, &cache, pool);
    EXPECT_LT(rel_error(logits, upstream_prompt), 1e-4) << threads << " threads";
    std::vector<float> last = rows_of(logits, V, T - 1, 1);
    std::vector<std::int64_t> ids;
    for (index_t n = 0; n < N; ++n) {
      EXPECT_LT(rel_error(last, rows_of(upstream_steps, V, n, 1)), 1e-4)
          << "step " << n << ", " << threads << " threads";
      ids.push_back(argmax_token(last.data(), V));
      last = poisoned<float>(std::size_t(V));
      model.forward({&ids.back(), {1, 1}}, {last.data(), {1, 1, V}}, &cache, pool);
    }
    EXPECT_EQ(ids, expected_ids) << threads << " threads";
  }
}

}  // namespace
}  // namespace sse::test
