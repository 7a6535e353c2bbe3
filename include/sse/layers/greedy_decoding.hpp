#pragma once

/// \file
/// Greedy decoding of one sequence (layers/hybrid_model.hpp): prefill the prompt, then take
/// the argmax token (lowest id on ties) and feed it back, one decode step a token. What
/// `sse-run generate` prints, and the ids speculative decoding must reproduce.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sse/core/parallel.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/layers/hybrid_model.hpp"

namespace sse {

/// `max_new` ids greedily decoded by `model` after `prompt` (at least one id). `prefilled` is
/// called once the prompt is read (a timer's mark). With `prompt_logits`, it receives the
/// logits of every prompt position, [T_prompt, vocab] (else only the last row is computed).
/// Decode steps allocate nothing. Throws sse::invalid_argument on a bad id or count.
inline std::vector<std::int64_t> generate_greedy(const HybridModel& model,
                                                 const std::vector<std::int64_t>& prompt,
                                                 index_t max_new, Executor& executor,
                                                 const std::function<void()>& prefilled = {},
                                                 std::vector<float>* prompt_logits = nullptr) {
  if (prompt.empty()) report_invalid_argument("prompt: expected at least one token id");
  if (max_new < 0) report_invalid_argument("max_new: expected >= 0");
  const index_t vocab = model.config().vocab_size;
  const auto T = static_cast<index_t>(prompt.size());
  const index_t rows = prompt_logits != nullptr ? T : 1;
  std::vector<float> first(static_cast<std::size_t>(rows * vocab));
  std::vector<float> step(static_cast<std::size_t>(vocab));
  std::vector<std::byte> workspace(model.workspace_size(1, 1, executor));
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(max_new));

  HybridModel::Cache cache = model.make_cache(1);
  model.forward({prompt.data(), {1, T}}, {first.data(), {1, rows, vocab}}, &cache, executor);
  if (prefilled) prefilled();
  const float* last = first.data() + (rows - 1) * vocab;
  for (index_t n = 0; n < max_new; ++n) {
    out.push_back(argmax_token(last, vocab));
    if (n + 1 == max_new) break;
    model.forward({&out.back(), {1, 1}}, {step.data(), {1, 1, vocab}}, &cache, executor,
                  Workspace(workspace.data(), workspace.size()));
    last = step.data();
  }
  if (prompt_logits != nullptr) *prompt_logits = std::move(first);
  return out;
}

}  // namespace sse
