#pragma once

/// \file
/// Greedy speculative decoding of one sequence with a target and a draft model
/// (layers/hybrid_model.hpp). Each round the draft proposes up to T_s tokens one at a time;
/// the target checks the last accepted token and the drafts in one `verify` of F = T_s + 1
/// rows (about the cost of one decode step when the weights dominate), keeps the longest
/// prefix of drafts its own greedy choices agree with, adds its own next token, and `commit`s
/// what it kept. The ids are exactly those greedy decoding with the target gives (argmax,
/// lowest id on ties): the verify's rows are bit for bit its decode steps'.
///
/// The draft rolls back too: it keeps its cache as it stood before its speculative steps
/// (a copy, made once per round) and, when the target rejects a draft, returns to it and feeds
/// the accepted drafts with its next round's first call.

#include <algorithm>
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

/// What a speculative generation did: drafts proposed and accepted, and verify rounds.
struct SpeculativeStats {
  index_t drafted = 0;
  index_t accepted = 0;
  index_t rounds = 0;
};

/// `max_new` ids greedily decoded by `target` after `prompt` (at least one id), drafting
/// `draft_tokens` >= 1 tokens a round with `draft` (same vocabulary). `prefilled` is called
/// once both models have read the prompt (a timer's mark). Throws sse::invalid_argument on a
/// bad id, count or vocabulary.
inline std::vector<std::int64_t> generate_speculative(
    const HybridModel& target, const HybridModel& draft, const std::vector<std::int64_t>& prompt,
    index_t max_new, index_t draft_tokens, Executor& executor, SpeculativeStats* stats = nullptr,
    const std::function<void()>& prefilled = {}) {
  const index_t vocab = target.config().vocab_size;
  if (draft.config().vocab_size != vocab) {
    report_invalid_argument("draft: vocab_size " + std::to_string(draft.config().vocab_size) +
                            " differs from the target's " + std::to_string(vocab));
  }
  if (draft_tokens < 1) {
    report_invalid_argument("draft_tokens: expected >= 1, got " + std::to_string(draft_tokens));
  }
  if (prompt.empty()) report_invalid_argument("prompt: expected at least one token id");
  if (max_new < 0) report_invalid_argument("max_new: expected >= 0");
  SpeculativeStats counted;
  std::vector<std::int64_t> out;
  if (max_new == 0) return out;

  const index_t F = draft_tokens + 1;
  const auto P = static_cast<index_t>(prompt.size());
  HybridModel::Cache target_cache = target.make_cache(1, 0, F);
  HybridModel::Cache draft_cache = draft.make_cache(1, 0, F);
  std::vector<float> logits(static_cast<std::size_t>(F * vocab));
  std::vector<std::byte> workspace(
      std::max(target.workspace_size(1, F, executor), draft.workspace_size(1, F, executor)));
  const Workspace scratch(workspace.data(), workspace.size());

  target.forward({prompt.data(), {1, P}}, {logits.data(), {1, 1, vocab}}, &target_cache, executor);
  out.push_back(argmax_token(logits.data(), vocab));
  draft.forward({prompt.data(), {1, P}}, {logits.data(), {1, 1, vocab}}, &draft_cache, executor);
  if (prefilled) prefilled();
  std::vector<std::int64_t> pending{out.back()};  // real tokens the draft has not seen yet
  std::vector<std::int64_t> checked;              // the last accepted token, then the drafts
  HybridModel::Cache before_drafts;               // the draft's cache before its speculative steps

  while (static_cast<index_t>(out.size()) < max_new) {
    const index_t drafts = std::min(draft_tokens, max_new - static_cast<index_t>(out.size()));
    // The draft: the pending real tokens, then one call per speculative token.
    checked.assign(1, out.back());
    draft.forward({pending.data(), {1, static_cast<index_t>(pending.size())}},
                  {logits.data(), {1, 1, vocab}}, &draft_cache, executor, scratch);
    checked.push_back(argmax_token(logits.data(), vocab));
    before_drafts = draft_cache;  // reuses its buffers from the second round on
    for (index_t j = 1; j < drafts; ++j) {
      draft.forward({&checked.back(), {1, 1}}, {logits.data(), {1, 1, vocab}}, &draft_cache,
                    executor, scratch);
      checked.push_back(argmax_token(logits.data(), vocab));
    }

    // The target checks them all at once and keeps what its own choices agree with.
    const auto rows = static_cast<index_t>(checked.size());
    target.verify({checked.data(), {1, rows}}, {logits.data(), {1, rows, vocab}}, target_cache,
                  executor, scratch);
    index_t accepted = 0;
    std::int64_t choice = argmax_token(logits.data(), vocab);
    while (accepted < drafts && choice == checked[static_cast<std::size_t>(accepted + 1)]) {
      ++accepted;
      choice = argmax_token(logits.data() + accepted * vocab, vocab);
    }
    const index_t kept = accepted + 1;
    target.commit({&kept, {1}}, target_cache, executor);
    for (index_t i = 1; i <= accepted; ++i) out.push_back(checked[static_cast<std::size_t>(i)]);
    if (static_cast<index_t>(out.size()) < max_new) out.push_back(choice);

    // The draft has seen the drafts before the last one; it keeps those the target accepted.
    pending.clear();
    if (accepted < drafts - 1) {
      draft_cache = before_drafts;
      pending.assign(checked.begin() + 1, checked.begin() + 1 + accepted);
    } else if (accepted == drafts) {
      pending.push_back(checked.back());
    }
    pending.push_back(choice);
    counted.drafted += drafts;
    counted.accepted += accepted;
    ++counted.rounds;
  }
  out.resize(static_cast<std::size_t>(max_new));
  if (stats != nullptr) *stats = counted;
  return out;
}

}  // namespace sse
