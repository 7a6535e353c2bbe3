#pragma once

/// \file
/// The sizes of an SSE layer read from its weights (DESIGN.md section 4), for a caller that
/// knows only the head counts, as `sse-run layer` and the Python `sse.Layer`:
///
///   D = columns of q_proj.weight      K = rows(q_proj.weight) / H
///   V = rows(v_proj.weight) / HV      N = rows(e_proj.weight)
///
/// The other weights are checked against these sizes by the layer's constructor.

#include <string>

#include "sse/error.hpp"
#include "sse/layers/sse_layer_config.hpp"
#include "sse/layers/weights.hpp"

namespace sse {

/// Fills config.hidden, head_dim, value_dim and partitions from `weights`, given
/// config.heads (>= 1) and config.v_heads (0: heads). The Status is about the weight key (or
/// the option: heads, v_heads, writers, readers, path) that is wrong; config is unchanged then.
inline Status infer_sse_layer_sizes(const Weights& weights, SseLayerConfig& config) {
  auto matrix_rows = [&](const std::string& key, index_t& rows) -> Status {
    if (!weights.contains(key)) return Status::error(key, "missing");
    const Parameter& p = weights.at(key);
    if (p.shape.size() != 2) {
      return Status::error(key, "expected 2 dimensions, got shape " + format_shape(p.shape));
    }
    rows = p.shape[0];
    return {};
  };
  if (config.heads < 1) return Status::error("heads", "must be >= 1");
  const index_t HV = config.value_heads();
  if (HV % config.heads != 0) {
    return Status::error("v_heads", std::to_string(HV) + " is not a multiple of heads = " +
                                        std::to_string(config.heads));
  }
  index_t HK = 0, HVV = 0, N = 0;
  if (Status s = matrix_rows("q_proj.weight", HK); !s) return s;
  if (Status s = matrix_rows("v_proj.weight", HVV); !s) return s;
  if (Status s = matrix_rows("e_proj.weight", N); !s) return s;
  if (HK % config.heads != 0) {
    return Status::error("q_proj.weight", std::to_string(HK) + " rows are not a multiple of " +
                                              std::to_string(config.heads) + " heads");
  }
  if (HVV % HV != 0) {
    return Status::error("v_proj.weight", std::to_string(HVV) + " rows do not split into " +
                                              std::to_string(HV) + " value heads");
  }
  if (config.writers < 1 || config.writers > N || config.readers < 1 || config.readers > N) {
    return Status::error(
        config.writers < 1 || config.writers > N ? "writers" : "readers",
        "expected 1 <= k <= N = " + std::to_string(N) + " (N is the rows of e_proj.weight)");
  }
  if (config.path == Path::kSparse && config.writers != config.readers) {
    return Status::error("path", "the sparse path needs writers == readers");
  }
  config.hidden = weights.at("q_proj.weight").shape[1];
  config.head_dim = HK / config.heads;
  config.value_dim = HVV / HV;
  config.partitions = N;
  return {};
}

}  // namespace sse
