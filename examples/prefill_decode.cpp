// prefill_decode: how a serving engine drives SSE-GDN. Three requests of different prompt
// lengths are prefilled together as packed sequences (cu_seqlens), each in its own slot of a
// state pool updated in place; then each decode step runs the same operator on one token per
// request. At the end, the pool holds what one prefill over every token would have produced.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include <sse/sse.hpp>

namespace {

constexpr long H = 2, K = 32, V = 32, N = 4;  // heads, key and value dims, partitions
constexpr long kDecodeSteps = 16;
using Rule = sse::GdnRule;

/// Per-token inputs of every request: rows [request][token] of q1, q2, k1, k2 [H,K], v [H,V],
/// g1, g2, beta1, beta2 [H], eta [N]. In a model these come from the layer's projections.
struct Request {
  std::vector<float> q1, q2, k1, k2, v, g1, g2, beta1, beta2, eta;
};

Request random_request(long tokens, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> decay(-0.5f, 0.0f), unit(0.0f, 1.0f);
  auto fill = [&](long n, auto& dist) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (float& e : x) e = dist(rng);
    return x;
  };
  const long qk = tokens * H * K;
  return {fill(qk, normal),
          fill(qk, normal),
          fill(qk, normal),
          fill(qk, normal),
          fill(tokens * H * V, normal),
          fill(tokens * H, decay),
          fill(tokens * H, decay),
          fill(tokens * H, unit),
          fill(tokens * H, unit),
          fill(tokens * N, normal)};
}

/// Tokens [begin[r], end[r]) of every request r, packed into one batch (B = 1, cu_seqlens).
struct Batch {
  Request packed;
  std::vector<std::int64_t> cu_seqlens{0};

  Batch(const std::vector<Request>& requests, const std::vector<long>& begin,
        const std::vector<long>& end) {
    for (std::size_t r = 0; r < requests.size(); ++r) {
      auto append = [&](std::vector<float>& to, const std::vector<float>& from, long width) {
        to.insert(to.end(), from.begin() + begin[r] * width, from.begin() + end[r] * width);
      };
      const Request& x = requests[r];
      append(packed.q1, x.q1, H * K), append(packed.q2, x.q2, H * K);
      append(packed.k1, x.k1, H * K), append(packed.k2, x.k2, H * K);
      append(packed.v, x.v, H * V), append(packed.eta, x.eta, N);
      append(packed.g1, x.g1, H), append(packed.g2, x.g2, H);
      append(packed.beta1, x.beta1, H), append(packed.beta2, x.beta2, H);
      cu_seqlens.push_back(cu_seqlens.back() + end[r] - begin[r]);
    }
  }

  sse::SseInputs<Rule> inputs() const {
    const long T = cu_seqlens.back();
    sse::SseInputs<Rule> in;
    in.q1 = {packed.q1.data(), {1, T, H, K}}, in.q2 = {packed.q2.data(), {1, T, H, K}};
    in.k1 = {packed.k1.data(), {1, T, H, K}}, in.k2 = {packed.k2.data(), {1, T, H, K}};
    in.v = {packed.v.data(), {1, T, H, V}}, in.eta = {packed.eta.data(), {1, T, N}};
    in.g1 = {packed.g1.data(), {1, T, H}}, in.g2 = {packed.g2.data(), {1, T, H}};
    in.beta1 = {packed.beta1.data(), {1, T, H}}, in.beta2 = {packed.beta2.data(), {1, T, H}};
    in.cu_seqlens = {cu_seqlens.data(), {static_cast<long>(cu_seqlens.size())}};
    return in;
  }
};

}  // namespace

int main() {
  std::mt19937 rng(7);
  const std::vector<long> prompt = {37, 100, 5};
  const std::vector<std::int64_t> slots = {4, 1, 6};  // each request's slot in the pool
  const long requests = 3, pool_slots = 8;
  std::vector<Request> tokens;
  for (long r = 0; r < requests; ++r)
    tokens.push_back(random_request(prompt[r] + kDecodeSteps, rng));

  const long state = (1 + N) * H * K * V;  // one request's states: [1+N,H,K,V]
  std::vector<float> pool(pool_slots * state, 0.0f);
  const sse::TensorView<float, 5> pool_view{pool.data(), {pool_slots, 1 + N, H, K, V}};
  sse::ThreadPool threads;
  sse::AttentionOptions options;  // GDN: qk_l2norm on; writers = readers = 1

  auto run = [&](const Batch& batch) {  // one operator call on the pool, in place
    sse::SseInputs<Rule> in = batch.inputs();
    in.state_slots = {slots.data(), {requests}};
    in.h0 = pool_view;
    const long T = batch.cu_seqlens.back();
    std::vector<float> o(T * H * V);
    sse::SseOutputs<float> out;
    out.o = {o.data(), {1, T, H, V}};
    out.ht = pool_view;
    sse::sse_attention<Rule>(in, out, options, threads);
    return o;
  };

  run(Batch(tokens, {0, 0, 0}, prompt));  // prefill: 142 tokens, 3 sequences
  std::vector<float> last;
  for (long step = 0; step < kDecodeSteps; ++step) {  // decode: one token per request
    std::vector<long> begin, end;
    for (long r = 0; r < requests; ++r)
      begin.push_back(prompt[r] + step), end.push_back(prompt[r] + step + 1);
    last = run(Batch(tokens, begin, end));
  }

  // The same tokens in one prefill, into separate states.
  const std::vector<long> total = {prompt[0] + kDecodeSteps, prompt[1] + kDecodeSteps,
                                   prompt[2] + kDecodeSteps};
  const Batch all(tokens, {0, 0, 0}, total);
  std::vector<float> o(all.cu_seqlens.back() * H * V), ht(requests * state);
  sse::SseOutputs<float> out;
  out.o = {o.data(), {1, all.cu_seqlens.back(), H, V}};
  out.ht = {ht.data(), {requests, 1 + N, H, K, V}};
  sse::sse_attention<Rule>(all.inputs(), out, options, threads);

  double worst = 0;
  for (long r = 0; r < requests; ++r) {
    double diff = 0, norm = 0;
    for (long i = 0; i < state; ++i) {
      const double a = pool[slots[r] * state + i], b = ht[r * state + i];
      diff += (a - b) * (a - b), norm += b * b;
    }
    worst = std::fmax(worst, std::sqrt(diff / norm));
    std::printf("request %ld: %3ld prompt + %ld decoded tokens, state in slot %lld\n", r, prompt[r],
                kDecodeSteps, static_cast<long long>(slots[r]));
  }
  std::printf("last decode step: o[request 0, head 0, :3] = %.5f %.5f %.5f\n", last[0], last[1],
              last[2]);
  std::printf("states after prefill + %ld decode steps vs one prefill: relative difference %.2e\n",
              kDecodeSteps, worst);
  return worst < 1e-4 ? 0 : 1;
}
