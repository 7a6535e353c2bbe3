#pragma once

// Random weights for an SSE layer, under upstream's keys, scaled like a trained layer's.

#include <cmath>
#include <cstdint>
#include <vector>

#include "sse/layers/sse_layer.hpp"
#include "sse/layers/weights.hpp"

#include "support/random.hpp"

namespace sse::test {

/// Random weights for `config`, scaled like a trained layer's (1 / sqrt(fan-in)).
template <class Rule>
Weights weights_for(const SseLayerConfig& config, std::uint64_t seed) {
  Weights w;
  for (const ParameterSpec& spec : SseLayer<Rule>::parameters(config)) {
    std::size_t n = 1;
    for (index_t d : spec.shape) n *= std::size_t(d);
    const double fan_in = spec.shape.size() > 1 ? double(spec.shape[1]) : 1.0;
    std::vector<float> data = randn<float>(n, seed++, 1.0 / std::sqrt(fan_in));
    if (spec.key == "o_norm.weight") {
      for (float& e : data) e = 1.0f + 0.2f * e;
    } else if (spec.key == "A_log") {
      data = uniform<float>(n, seed++, -1.0, 0.5);
    }
    w.add(spec.key, spec.shape, data);
  }
  return w;
}

}  // namespace sse::test
