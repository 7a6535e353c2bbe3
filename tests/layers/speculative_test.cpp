// Speculative decoding through whole models (HybridModel::verify and commit): the verify's
// logits are bit for bit those of decoding the tokens one by one, and after commit(m) the next
// step's logits and the caches are those of decoding m tokens, for every m, mixed across the
// batch, with 1 or 2 threads; SSE-H models and SpikingBrain2.0 ones (SSE-SWA with a window,
// short convolutions, MoBA, full attention). Bad verifies and commits change nothing.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "sse/core/parallel.hpp"
#include "sse/layers/hybrid_model.hpp"
#include "sse/layers/speculative_decoding.hpp"

#include "support/compare.hpp"
#include "support/layer_weights.hpp"

namespace sse::test {
namespace {

constexpr index_t kBatch = 2, kPrompt = 9, kVerified = 5;

/// Everything a cache holds that decoding reads, as bytes (sequence b's part when b >= 0):
/// states, convolution histories, stored keys and values, positions.
std::vector<unsigned char> cache_bytes(const HybridModel::Cache& cache, index_t b = -1) {
  std::vector<unsigned char> bytes;
  auto add = [&](const auto* data, std::size_t count) {
    const auto* p = reinterpret_cast<const unsigned char*>(data);
    bytes.insert(bytes.end(), p, p + count * sizeof(*data));
  };
  auto add_part = [&](const std::vector<float>& x) {  // b's 1/B of a [B, ...] buffer
    const std::size_t part = x.size() / std::size_t(cache.batch);
    if (b < 0) {
      add(x.data(), x.size());
    } else {
      add(x.data() + std::size_t(b) * part, part);
    }
  };
  auto add_attention = [&](const SoftmaxAttentionLayer::Cache& kv) {
    for (index_t s = 0; s < kv.batch; ++s) {
      if (b >= 0 && s != b) continue;
      const index_t kept = kv.kept[std::size_t(s)];
      const std::size_t width =
          kv.keys.size() / std::size_t(kv.batch * std::max<index_t>(1, kv.capacity));
      add(&kv.length[std::size_t(s)], 1);
      add(&kept, 1);
      add(kv.keys.data() + std::size_t(s * kv.capacity) * width, std::size_t(kept) * width);
      add(kv.values.data() + std::size_t(s * kv.capacity) * width, std::size_t(kept) * width);
    }
  };
  for (const HybridModel::MixerCache& mixer : cache.mixers) {
    std::visit(
        [&](const auto& c) {
          using C = std::decay_t<decltype(c)>;
          if constexpr (std::is_same_v<C, SoftmaxAttentionLayer::Cache>) {
            add_attention(c);
          } else if constexpr (std::is_same_v<C, SseLayer<GlaRule>::Cache> ||
                               std::is_same_v<C, SseLayer<GdnRule>::Cache>) {
            add_part(c.state), add_part(c.q_conv), add_part(c.k_conv);
          } else {
            add_part(c.sse.state), add_part(c.sse.q_conv), add_part(c.sse.k_conv);
            add_attention(c.window);
          }
        },
        mixer);
  }
  return bytes;
}

std::vector<std::int64_t> ids(std::size_t n, std::uint64_t seed, index_t vocab) {
  std::vector<std::int64_t> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = std::int64_t((i * 17 + seed * 31 + 5) % std::size_t(vocab));
  return out;
}

/// Prefill, then compare verify + commit with decoding step by step.
void check_model(const HybridModel& model, Executor& executor) {
  const index_t B = kBatch, F = kVerified, vocab = model.config().vocab_size;
  const std::vector<std::int64_t> prompt = ids(std::size_t(B * kPrompt), 1, vocab);
  const std::vector<std::int64_t> drafts = ids(std::size_t(B * F), 2, vocab);
  const std::vector<std::int64_t> next = ids(std::size_t(B), 3, vocab);
  SerialExecutor serial;

  HybridModel::Cache prefilled = model.make_cache(B, 0, F);
  std::vector<float> last(std::size_t(B * vocab));
  model.forward({prompt.data(), {B, kPrompt}}, {last.data(), {B, 1, vocab}}, &prefilled, serial);

  // One token per call: the logits of each step and the cache after each count.
  std::vector<HybridModel::Cache> after{prefilled};
  std::vector<std::vector<float>> step_logits;
  for (index_t j = 0; j < F; ++j) {
    HybridModel::Cache cache = after.back();
    std::vector<std::int64_t> column(static_cast<std::size_t>(B));
    for (index_t b = 0; b < B; ++b) column[std::size_t(b)] = drafts[std::size_t(b * F + j)];
    step_logits.push_back(poisoned<float>(std::size_t(B * vocab)));
    model.forward({column.data(), {B, 1}}, {step_logits.back().data(), {B, 1, vocab}}, &cache,
                  serial);
    after.push_back(cache);
  }

  std::vector<std::vector<index_t>> patterns;
  for (index_t m = 1; m <= F; ++m) patterns.push_back({m, m});
  patterns.push_back({2, 5});
  patterns.push_back({5, 1});
  for (const std::vector<index_t>& kept : patterns) {
    SCOPED_TRACE("kept " + std::to_string(kept[0]) + ", " + std::to_string(kept[1]));
    HybridModel::Cache cache = prefilled;
    std::vector<float> logits = poisoned<float>(std::size_t(B * F * vocab));
    model.verify({drafts.data(), {B, F}}, {logits.data(), {B, F, vocab}}, cache, executor);
    for (index_t b = 0; b < B; ++b) {
      for (index_t j = 0; j < F; ++j) {
        const std::vector<float> row(logits.begin() + (b * F + j) * vocab,
                                     logits.begin() + (b * F + j + 1) * vocab);
        const std::vector<float> step(step_logits[std::size_t(j)].begin() + b * vocab,
                                      step_logits[std::size_t(j)].begin() + (b + 1) * vocab);
        EXPECT_TRUE(same_bits(row, step)) << "verify row " << j << " of sequence " << b;
      }
    }
    model.commit({kept.data(), {B}}, cache, executor);
    for (index_t b = 0; b < B; ++b) {
      EXPECT_TRUE(cache_bytes(cache, b) == cache_bytes(after[std::size_t(kept[std::size_t(b)])], b))
          << "the cache of sequence " << b;
    }
    // The next step: each sequence's row as after decoding its kept tokens.
    std::vector<float> got(std::size_t(B * vocab));
    model.forward({next.data(), {B, 1}}, {got.data(), {B, 1, vocab}}, &cache, executor);
    for (index_t b = 0; b < B; ++b) {
      HybridModel::Cache reference = after[std::size_t(kept[std::size_t(b)])];
      std::vector<float> expected(std::size_t(B * vocab));
      model.forward({next.data(), {B, 1}}, {expected.data(), {B, 1, vocab}}, &reference, serial);
      EXPECT_TRUE(same_bits(
          std::vector<float>(got.begin() + b * vocab, got.begin() + (b + 1) * vocab),
          std::vector<float>(expected.begin() + b * vocab, expected.begin() + (b + 1) * vocab)))
          << "next logits of sequence " << b;
    }
  }
}

HybridConfig spikingbrain_config(const std::string& base) {
  HybridConfig c;
  throw_if_error(parse_hybrid_config(small_spikingbrain_config_text(base), c));
  return c;
}

TEST(Speculative, VerifyAndCommitEqualDecodingStepByStep) {
  SerialExecutor serial;
  ThreadPool pool(2);
  for (const char* base : {"gla", "gdn"}) {
    SCOPED_TRACE(base);
    const HybridConfig sse_h = small_model_config(base, false);
    const HybridModel model(sse_h, random_model_weights(sse_h, 40, 11));
    check_model(model, serial);
    const HybridConfig spb2 = spikingbrain_config(base);
    const HybridModel spikingbrain(spb2, random_model_weights(spb2, 48, 12));
    check_model(spikingbrain, serial);
    check_model(spikingbrain, pool);
  }
}

template <class Call>
std::string error_of(Call&& call) {
  try {
    call();
  } catch (const invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Speculative, BadVerifiesAndCommitsChangeNothing) {
  const HybridConfig c = spikingbrain_config("gla");
  const HybridModel model(c, random_model_weights(c, 48, 13));
  const index_t B = kBatch, F = 3, vocab = c.vocab_size;
  SerialExecutor serial;
  std::vector<std::int64_t> drafts = ids(std::size_t(B * F), 4, vocab);
  std::vector<float> logits = poisoned<float>(std::size_t(B * F * vocab));
  const std::vector<float> poison = logits;

  HybridModel::Cache fresh = model.make_cache(B);
  EXPECT_NE(error_of([&] {
              model.verify({drafts.data(), {B, F}}, {logits.data(), {B, F, vocab}}, fresh, serial);
            }).find("sequence 0 has seen no token"),
            std::string::npos);

  HybridModel::Cache cache = model.make_cache(B);
  const std::vector<std::int64_t> prompt = ids(std::size_t(B * kPrompt), 5, vocab);
  std::vector<float> last(std::size_t(B * vocab));
  model.forward({prompt.data(), {B, kPrompt}}, {last.data(), {B, 1, vocab}}, &cache, serial);
  const std::vector<unsigned char> prefilled = cache_bytes(cache);
  std::vector<index_t> kept{1, 1};
  EXPECT_NE(error_of([&] {
              model.commit({kept.data(), {B}}, cache, serial);
            }).find("no verify awaits a commit"),
            std::string::npos);

  drafts[3] = vocab;  // not a token id
  EXPECT_NE(error_of([&] {
              model.verify({drafts.data(), {B, F}}, {logits.data(), {B, F, vocab}}, cache, serial);
            }).find("is not a token id"),
            std::string::npos);
  drafts[3] = 1;
  EXPECT_NE(error_of([&] {
              model.verify({drafts.data(), {B, F}}, {logits.data(), {B, 1, vocab}}, cache, serial);
            }).find("a verify gives every row's"),
            std::string::npos);
  EXPECT_TRUE(cache_bytes(cache) == prefilled);
  EXPECT_TRUE(same_bits(logits, poison));

  model.verify({drafts.data(), {B, F}}, {logits.data(), {B, F, vocab}}, cache, serial);
  const std::vector<unsigned char> verified = cache_bytes(cache);
  // (A pair, not a structured binding: clang 14 cannot capture those in the lambda below.)
  for (const auto& bad_case : std::vector<std::pair<std::vector<index_t>, std::string>>{
           {{0, 1}, "kept: sequence 0 keeps 0 of its 3 verified tokens; expected 1 to 3"},
           {{1, 4}, "kept: sequence 1 keeps 4 of its 3 verified tokens; expected 1 to 3"},
           {{1, 1, 1}, "kept: expected shape [B] = [2], got [3]"}}) {
    const std::vector<index_t>& bad = bad_case.first;
    const std::string message = error_of([&] {
      model.commit({bad.data(), {index_t(bad.size())}}, cache, serial);
    });
    EXPECT_EQ(message, bad_case.second);
    EXPECT_TRUE(cache_bytes(cache) == verified);
  }
  kept = {3, 2};
  EXPECT_EQ(error_of([&] { model.commit({kept.data(), {B}}, cache, serial); }), "");
}

/// Plain greedy decoding: prefill, then one token per call.
std::vector<std::int64_t> greedy(const HybridModel& model, const std::vector<std::int64_t>& prompt,
                                 index_t max_new) {
  const index_t vocab = model.config().vocab_size;
  HybridModel::Cache cache = model.make_cache(1);
  std::vector<float> logits(static_cast<std::size_t>(vocab));
  model.forward({prompt.data(), {1, index_t(prompt.size())}}, {logits.data(), {1, 1, vocab}},
                &cache);
  std::vector<std::int64_t> out;
  while (index_t(out.size()) < max_new) {
    out.push_back(argmax_token(logits.data(), vocab));
    model.forward({&out.back(), {1, 1}}, {logits.data(), {1, 1, vocab}}, &cache);
  }
  return out;
}

// The defining property: speculative decoding prints exactly the target's greedy ids, whatever
// the draft (the target's first layers, another model, the target itself) and T_s.
TEST(Speculative, GenerationEqualsGreedyDecoding) {
  ThreadPool pool(2);
  for (const char* base : {"gla", "gdn"}) {
    SCOPED_TRACE(base);
    const HybridConfig c = spikingbrain_config(base);
    const HybridModel target(c, random_model_weights(c, 48, 21));
    const HybridModel other(c, random_model_weights(c, 48, 22));
    const std::vector<std::int64_t> prompt = ids(7, 6, c.vocab_size);
    const index_t max_new = 13;
    const std::vector<std::int64_t> expected = greedy(target, prompt, max_new);
    for (index_t drafts : {1, 3, 4}) {
      for (index_t layers : {1, 3, 4}) {
        SpeculativeStats stats;
        const HybridModel draft = target.first_layers(layers);
        EXPECT_EQ(generate_speculative(target, draft, prompt, max_new, drafts, pool, &stats),
                  expected)
            << drafts << " drafts, " << layers << " layers";
        EXPECT_GT(stats.rounds, 0);
        if (layers == c.num_hidden_layers) {  // the target drafting for itself: all accepted
          EXPECT_EQ(stats.accepted, stats.drafted);
          EXPECT_LE(stats.rounds, (max_new - 1 + drafts) / (drafts + 1) + 1);
        }
      }
      EXPECT_EQ(generate_speculative(target, other, prompt, max_new, drafts, pool), expected);
    }
  }
  const HybridConfig sse_h = small_model_config("gla", true);
  const HybridModel target(sse_h, random_model_weights(sse_h, 40, 23));
  const std::vector<std::int64_t> prompt = ids(5, 7, sse_h.vocab_size);
  EXPECT_EQ(generate_speculative(target, target.first_layers(1), prompt, 11, 4, pool),
            greedy(target, prompt, 11));
  EXPECT_THROW(target.first_layers(0), invalid_argument);
}

}  // namespace
}  // namespace sse::test
