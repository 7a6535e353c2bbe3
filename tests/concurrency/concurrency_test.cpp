// Determinism and concurrency (also run under ThreadSanitizer, see CMakePresets.json):
//  - the operator and a whole SSE-H model's decode give the same bits on every repeat and on 1,
//    2 and 3 threads, with and without a workspace;
//  - many threads calling the operator, an SSE layer and a model at once, on shared const inputs
//    and weights, through one shared executor or each through its own, each get the bits of a
//    call made alone.

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sse/attention/sse_attention.hpp"
#include "sse/layers/hybrid_model.hpp"
#include "sse/layers/sse_layer.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/compare.hpp"
#include "support/layer_weights.hpp"
#include "support/random.hpp"
#include "support/sse_case.hpp"

namespace sse::test {
namespace {

constexpr int kRepeats = 2;

// Every executor a determinism test compares: serial, and pools of 1, 2 and 3 threads.
std::vector<std::unique_ptr<Executor>> executors() {
  std::vector<std::unique_ptr<Executor>> out;
  out.push_back(std::make_unique<SerialExecutor>());
  for (std::size_t threads : {1u, 2u, 3u}) out.push_back(std::make_unique<ThreadPool>(threads));
  return out;
}

// The operator's outputs (o, ht and the routing) for one call.
struct OperatorResult {
  std::vector<float> o, ht, p;
  std::vector<std::int32_t> writers, readers;
  bool operator==(const OperatorResult& r) const {
    return same_bits(o, r.o) && same_bits(ht, r.ht) && same_bits(p, r.p) && writers == r.writers &&
           readers == r.readers;
  }
};

template <class Rule>
OperatorResult run_operator(SseCase<Rule, float>& c, const AttentionOptions& options,
                            Executor& executor, bool with_workspace) {
  c.poison();
  const auto in = c.inputs();
  const auto out = c.outputs(/*with_routing=*/true);
  std::vector<std::byte> memory;
  if (with_workspace) memory.resize(sse_attention_workspace_size<Rule>(in, out, options, executor));
  sse_attention<Rule>(in, out, options, executor, Workspace(memory.data(), memory.size()));
  return {c.o, c.ht, c.p, c.writer_ids, c.reader_ids};
}

// Prefill (two chunks and a tail), packed sequences with an empty one, and a decode step
// (T = 1), on the sparse path (k_w = k_r) and the masked one (k_w != k_r).
template <class Rule>
void operator_is_deterministic() {
  const std::vector<SseShape> shapes = {SseShape{2, 137, 2, 16, 24, 4, {}},
                                        SseShape{1, 90, 2, 8, 8, 3, {0, 40, 40, 90}},
                                        SseShape{3, 1, 2, 16, 16, 4, {}}};
  for (const SseShape& shape : shapes) {
    for (auto [kw, kr] : {std::pair{2, 2}, std::pair{1, 3}}) {
      if (kr > shape.N) continue;
      SseCase<Rule, float> c(shape, 2024, kw, kr);
      const AttentionOptions options = c.options();
      SerialExecutor serial;
      const OperatorResult first = run_operator(c, options, serial, false);
      for (const auto& executor : executors()) {
        for (int repeat = 0; repeat < kRepeats; ++repeat) {
          EXPECT_TRUE(run_operator(c, options, *executor, repeat % 2 == 1) == first)
              << Rule::kName << " " << shape << " kw=" << kw << " kr=" << kr << " on "
              << executor->concurrency() << " threads, repeat " << repeat;
        }
      }
    }
  }
}

TEST(Determinism, GlaOperatorSameBitsOverRepeatsAndThreads) {
  operator_is_deterministic<GlaRule>();
}
TEST(Determinism, GdnOperatorSameBitsOverRepeatsAndThreads) {
  operator_is_deterministic<GdnRule>();
}

// A whole model: a prefill of 6 tokens for 2 sequences, then 8 greedy decode steps; every
// step's logits are kept.
std::vector<float> generate_logits(const HybridModel& model, Executor& executor,
                                   bool with_workspace) {
  const index_t B = 2, P = 6, steps = 8, vocab = model.config().vocab_size;
  HybridModel::Cache cache = model.make_cache(B, P + steps);
  std::vector<std::int64_t> tokens(std::size_t(B * P));
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = std::int64_t(i * 11 % vocab);
  std::vector<float> logits(std::size_t(B * P * vocab));
  model.forward({tokens.data(), {B, P}}, {logits.data(), {B, P, vocab}}, &cache, executor);
  std::vector<float> all = logits;
  std::vector<std::byte> memory;
  if (with_workspace) memory.resize(model.workspace_size(B, 1, executor));
  std::vector<std::int64_t> next(static_cast<std::size_t>(B));
  for (index_t step = 0; step < steps; ++step) {
    for (index_t b = 0; b < B; ++b) {
      const float* last = all.data() + all.size() - std::size_t((B - b) * vocab);
      next[std::size_t(b)] = argmax_token(last, vocab);
    }
    std::vector<float> step_logits = poisoned<float>(std::size_t(B * vocab));
    model.forward({next.data(), {B, 1}}, {step_logits.data(), {B, 1, vocab}}, &cache, executor,
                  Workspace(memory.data(), memory.size()));
    all.insert(all.end(), step_logits.begin(), step_logits.end());
  }
  return all;
}

TEST(Determinism, ModelDecodeSameBitsOverRepeatsAndThreads) {
  for (const char* type : {"gla", "gdn"}) {
    const HybridConfig c = small_model_config(type, true);
    const HybridModel model(c, random_model_weights(c, 24, 77));
    SerialExecutor serial;
    const std::vector<float> first = generate_logits(model, serial, false);
    for (const auto& executor : executors()) {
      for (int repeat = 0; repeat < kRepeats; ++repeat) {
        EXPECT_TRUE(same_bits(generate_logits(model, *executor, repeat % 2 == 1), first))
            << type << " on " << executor->concurrency() << " threads, repeat " << repeat;
      }
    }
  }
}

// Runs `work(i)` on `callers` threads at once and joins them.
template <class Work>
void on_threads(int callers, Work work) {
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i) threads.emplace_back([&work, i] { work(i); });
  for (std::thread& t : threads) t.join();
}

constexpr int kCallers = 6;

TEST(Concurrency, ManyCallersOfTheOperator) {
  SseCase<GdnRule, float> shared(SseShape{2, 70, 2, 16, 16, 4, {}}, 99, 1, 1);
  const AttentionOptions options = shared.options();
  SerialExecutor serial;
  const OperatorResult alone = run_operator(shared, options, serial, false);
  const SseInputs<GdnRule> in = shared.inputs();  // read by every caller at once
  ThreadPool pool(2);
  for (bool shared_executor : {true, false}) {
    std::vector<OperatorResult> results(kCallers);
    on_threads(kCallers, [&](int i) {
      SseCase<GdnRule, float> own = shared;  // outputs of its own
      own.poison();
      SerialExecutor mine;
      Executor& executor = shared_executor ? static_cast<Executor&>(pool) : mine;
      for (int repeat = 0; repeat < 3; ++repeat) {
        sse_attention<GdnRule>(in, own.outputs(true), options, executor);
      }
      results[std::size_t(i)] = {own.o, own.ht, own.p, own.writer_ids, own.reader_ids};
    });
    for (int i = 0; i < kCallers; ++i) {
      EXPECT_TRUE(results[std::size_t(i)] == alone)
          << "caller " << i << (shared_executor ? " on the shared pool" : " on its own executor");
    }
  }
}

TEST(Concurrency, ManyCallersOfALayerAndAModel) {
  SseLayerConfig lc;
  lc.hidden = 24, lc.heads = 2, lc.head_dim = 8, lc.value_dim = 8, lc.partitions = 4;
  lc.use_short_conv = true;
  const SseLayer<GlaRule> layer(lc, weights_for<GlaRule>(lc, 5));
  const HybridConfig mc = small_model_config("gdn", false);
  const HybridModel model(mc, random_model_weights(mc, 24, 6));
  const index_t B = 2, T = 9;
  const std::vector<float> x = randn<float>(std::size_t(B * T * lc.hidden), 7);

  // Each caller: a layer prefill then a decode step through its own cache, and a generation.
  auto work = [&](Executor& executor) {
    SseLayer<GlaRule>::Cache cache = layer.make_cache(B);
    std::vector<float> y(x.size());
    layer.forward({x.data(), {B, T - 1, lc.hidden}}, {y.data(), {B, T - 1, lc.hidden}}, &cache,
                  executor);
    std::vector<float> step(std::size_t(B * lc.hidden));
    layer.forward({x.data(), {B, 1, lc.hidden}}, {step.data(), {B, 1, lc.hidden}}, &cache,
                  executor);
    y.insert(y.end(), step.begin(), step.end());
    y.insert(y.end(), cache.state.begin(), cache.state.end());
    const std::vector<float> logits = generate_logits(model, executor, true);
    y.insert(y.end(), logits.begin(), logits.end());
    return y;
  };
  SerialExecutor serial;
  const std::vector<float> alone = work(serial);
  ThreadPool pool(2);
  for (bool shared_executor : {true, false}) {
    std::vector<std::vector<float>> results(kCallers);
    on_threads(kCallers, [&](int i) {
      SerialExecutor mine;
      results[std::size_t(i)] = work(shared_executor ? static_cast<Executor&>(pool) : mine);
    });
    for (int i = 0; i < kCallers; ++i) {
      EXPECT_TRUE(same_bits(results[std::size_t(i)], alone))
          << "caller " << i << (shared_executor ? " on the shared pool" : " on its own executor");
    }
  }
}

}  // namespace
}  // namespace sse::test
