// libFuzzer target: the SSE operator's validation and execution on tiny tensors. The fuzzer's
// bytes choose the rule, the shapes (B, T, H, K, V, N), packed sequences (cu_seqlens, valid or
// not), k_w and k_r (in or out of [1, N]), the path, the form, the options and every value:
// router logits from a palette with NaN, +-inf and ties, log decays down to -FLT_MAX and some
// bad ones, betas in and out of range.
//
// Checks: an input `validate_sse_attention` rejects makes `sse_attention` throw a one-line
// sse::invalid_argument and leaves every output bit untouched; an accepted one runs, writes
// every output, and matches the float64 reference (1e-3 relative to the output's scale).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "sse/attention/sse_attention.hpp"
#include "sse/reference/naive_sse.hpp"

#include "fuzz_check.hpp"
#include <fuzzer/FuzzedDataProvider.h>

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Router logits: a small palette, so ties are common and near-ties (which float32 and float64
// may break differently) are not; -inf (never routed there) is valid, +inf and NaN are errors.
float logit(FuzzedDataProvider& fdp) {
  static constexpr float kPalette[] = {0.0f,  0.5f,  -0.5f,  1.0f,  -1.0f, 2.0f, 3.0f,
                                       -3.0f, 30.0f, -30.0f, -kInf, kInf,  kNaN};
  const std::uint8_t b = fdp.ConsumeIntegral<std::uint8_t>();
  return kPalette[b % std::size(kPalette)];
}

// Log decays: mostly in [-2, 0], also exactly 0, -FLT_MAX, and rarely a bad value.
float log_decay(FuzzedDataProvider& fdp) {
  const std::uint8_t b = fdp.ConsumeIntegral<std::uint8_t>();
  switch (b) {
    case 255:
      return kNaN;
    case 254:
      return 0.25f;  // positive: rejected
    case 253:
      return -kInf;  // rejected
    case 252:
      return std::numeric_limits<float>::lowest();
    case 251:
      return -1e30f;
    default:
      return b < 16 ? 0.0f : -static_cast<float>(b) / 128.0f;
  }
}

float beta(FuzzedDataProvider& fdp) {
  const std::uint8_t b = fdp.ConsumeIntegral<std::uint8_t>();
  if (b == 255) return kNaN;
  return static_cast<float>(b) / 200.0f;  // up to 1.27: out of [0, 1] unless allow_neg_eigval
}

float value(FuzzedDataProvider& fdp) {
  return (static_cast<float>(fdp.ConsumeIntegral<std::uint8_t>()) - 128.0f) / 64.0f;
}

template <class Make>
std::vector<float> fill(std::size_t n, FuzzedDataProvider& fdp, Make make) {
  std::vector<float> out(n);
  for (float& x : out) x = make(fdp);
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// |out - ref| <= tol * (1 + max |ref|), elementwise; every output written (no NaN left).
void expect_close(const std::vector<float>& out, const std::vector<double>& ref) {
  sse::fuzz::require(out.size() == ref.size(), "outputs are the reference's size");
  double scale = 1;
  for (double r : ref) scale = std::max(scale, std::abs(r));
  for (std::size_t i = 0; i < out.size(); ++i) {
    sse::fuzz::require(std::abs(out[i] - ref[i]) <= 1e-3 * scale,
                       "an accepted input's outputs match the float64 reference");
  }
}

template <class Rule>
void run(FuzzedDataProvider& fdp) {
  const bool packed = fdp.ConsumeBool();
  const sse::index_t B = packed ? 1 : fdp.ConsumeIntegralInRange<sse::index_t>(1, 2);
  const sse::index_t T = fdp.ConsumeIntegralInRange<sse::index_t>(0, 9);
  const sse::index_t H = fdp.ConsumeIntegralInRange<sse::index_t>(1, 2);
  const sse::index_t K = fdp.ConsumeIntegralInRange<sse::index_t>(1, 6);
  const sse::index_t V = fdp.ConsumeIntegralInRange<sse::index_t>(1, 6);
  const sse::index_t N = fdp.ConsumeIntegralInRange<sse::index_t>(1, 5);

  sse::AttentionOptions options;
  options.writers = fdp.ConsumeIntegralInRange<sse::index_t>(0, N + 1);
  options.readers =
      fdp.ConsumeBool() ? options.writers : fdp.ConsumeIntegralInRange<sse::index_t>(0, N + 1);
  options.path = static_cast<sse::Path>(fdp.ConsumeIntegralInRange<int>(0, 2));
  options.mode = static_cast<sse::Mode>(fdp.ConsumeIntegralInRange<int>(0, 2));
  options.emulq = fdp.ConsumeBool();
  options.emulk = fdp.ConsumeBool();
  options.allow_neg_eigval = fdp.ConsumeBool();
  if (fdp.ConsumeBool()) options.qk_l2norm = fdp.ConsumeBool();
  if (Rule::kPerKeyDecay && fdp.ConsumeBool()) {
    options.key_rows = fdp.ConsumeIntegralInRange<sse::index_t>(0, K + 1);
  }

  std::vector<std::int64_t> cu_seqlens;
  if (packed) {  // cu_seqlens from the bytes: often valid (sorted, 0 .. T), sometimes not
    const int cuts = fdp.ConsumeIntegralInRange<int>(0, 3);
    cu_seqlens.push_back(0);
    for (int i = 0; i < cuts; ++i) cu_seqlens.push_back(fdp.ConsumeIntegralInRange<int>(-1, T + 1));
    cu_seqlens.push_back(T);
    if (fdp.ConsumeBool()) std::sort(cu_seqlens.begin(), cu_seqlens.end());
  }
  const sse::index_t S = packed ? static_cast<sse::index_t>(cu_seqlens.size()) - 1 : B;

  const auto qk = static_cast<std::size_t>(B * T * H * K);
  const auto heads = static_cast<std::size_t>(B * T * H);
  const std::size_t gate = Rule::kPerKeyDecay ? qk : heads;
  const auto states = static_cast<std::size_t>(S * (1 + N) * H * K * V);
  std::vector<float> eta = fill(static_cast<std::size_t>(B * T * N), fdp, logit);
  std::vector<float> g1 = fill(gate, fdp, log_decay), g2 = fill(gate, fdp, log_decay);
  std::vector<float> beta1, beta2;
  if constexpr (Rule::kHasBeta) beta1 = fill(heads, fdp, beta), beta2 = fill(heads, fdp, beta);
  std::vector<float> q1 = fill(qk, fdp, value), k1 = fill(qk, fdp, value);
  std::vector<float> q2 = fill(qk, fdp, value), k2 = fill(qk, fdp, value);
  std::vector<float> v = fill(heads * static_cast<std::size_t>(V), fdp, value);
  if (Rule::kHasBeta && !options.qk_l2norm.value_or(true)) {
    // The delta rule is only bounded for |k| <= 1 (beta <= 2); unnormalised keys are scaled down
    // so that the reference comparison stays meaningful.
    for (std::vector<float>* keys : {&k1, &k2}) {
      for (float& x : *keys) x /= 2.0f * std::sqrt(static_cast<float>(K));
    }
  }
  const bool with_h0 = fdp.ConsumeBool(), with_ht = fdp.ConsumeBool();
  const bool in_place = with_h0 && with_ht && fdp.ConsumeBool();
  std::vector<float> h0 = with_h0 ? fill(states, fdp, value) : std::vector<float>{};

  sse::SseInputs<Rule> in;
  in.q1 = {q1.data(), {B, T, H, K}}, in.k1 = {k1.data(), {B, T, H, K}};
  in.q2 = {q2.data(), {B, T, H, K}}, in.k2 = {k2.data(), {B, T, H, K}};
  in.v = {v.data(), {B, T, H, V}};
  in.eta = {eta.data(), {B, T, N}};
  if constexpr (Rule::kPerKeyDecay) {
    in.g1 = {g1.data(), {B, T, H, K}}, in.g2 = {g2.data(), {B, T, H, K}};
  } else {
    in.g1 = {g1.data(), {B, T, H}}, in.g2 = {g2.data(), {B, T, H}};
    in.beta1 = {beta1.data(), {B, T, H}}, in.beta2 = {beta2.data(), {B, T, H}};
  }
  if (packed) in.cu_seqlens = {cu_seqlens.data(), {static_cast<sse::index_t>(cu_seqlens.size())}};
  if (with_h0) in.h0 = {h0.data(), {S, 1 + N, H, K, V}};

  // Outputs poisoned with NaN; the reference reads h0 before an in-place call overwrites it.
  const std::vector<float> poison_o(heads * static_cast<std::size_t>(V), kNaN);
  std::vector<float> o = poison_o, ht_own(with_ht && !in_place ? states : 0, kNaN);
  sse::SseOutputs<float> out;
  out.o = {o.data(), {B, T, H, V}};
  if (with_ht) out.ht = {in_place ? h0.data() : ht_own.data(), {S, 1 + N, H, K, V}};
  const std::vector<float> h0_before = h0;

  const sse::Status status = sse::validate_sse_attention(in, out, options);
  if (!status.ok()) {
    bool threw = false;
    try {
      sse::sse_attention<Rule>(in, out, options);
    } catch (const sse::invalid_argument& e) {
      threw = std::string(e.what()) == status.message();
    }
    sse::fuzz::require(threw, "a rejected input throws validate's message");
    sse::fuzz::require(sse::fuzz::one_line(status.message()), "errors are one line");
    sse::fuzz::require(
        same_bits(o, poison_o) && same_bits(h0, h0_before) &&
            std::all_of(ht_own.begin(), ht_own.end(), [](float x) { return std::isnan(x); }),
        "a rejected input writes nothing");
    return;
  }
  const sse::reference::SseResult ref = sse::reference::sse_attention<Rule>(in, options);
  sse::sse_attention<Rule>(in, out, options);
  expect_close(o, ref.o);
  if (with_ht) expect_close(in_place ? h0 : ht_own, ref.ht);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  if (fdp.ConsumeBool()) {
    run<sse::GlaRule>(fdp);
  } else {
    run<sse::GdnRule>(fdp);
  }
  return 0;
}
