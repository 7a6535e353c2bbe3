// quickstart: one SSE-GLA attention call (N = 4 partitions, each token writes and reads k = 1)
// on random inputs, on every core, checked against the float64 reference that ships with the
// library.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <sse/sse.hpp>

int main() {
  const long B = 1, T = 512, H = 4, K = 64, V = 64,
             N = 4;  // batch, tokens, heads, dims, partitions
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> decay(-1.0f, 0.0f);
  auto random = [&](long n, auto& dist) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (float& e : x) e = dist(rng);
    return x;
  };
  const long qk = B * T * H * K;
  const std::vector<float> q1 = random(qk, normal), k1 = random(qk, normal);
  const std::vector<float> q2 = random(qk, normal), k2 = random(qk, normal);
  const std::vector<float> v = random(B * T * H * V, normal);
  const std::vector<float> g1 = random(qk, decay), g2 = random(qk, decay);  // log decays <= 0
  const std::vector<float> eta = random(B * T * N, normal);                 // router logits

  sse::SseInputs<sse::GlaRule> in;  // views: pointer + shape, C order
  in.q1 = {q1.data(), {B, T, H, K}}, in.k1 = {k1.data(), {B, T, H, K}};  // shared branch
  in.q2 = {q2.data(), {B, T, H, K}}, in.k2 = {k2.data(), {B, T, H, K}};  // partition branch
  in.v = {v.data(), {B, T, H, V}};
  in.g1 = {g1.data(), {B, T, H, K}}, in.g2 = {g2.data(), {B, T, H, K}};
  in.eta = {eta.data(), {B, T, N}};
  std::vector<float> o(B * T * H * V), ht(B * (1 + N) * H * K * V);
  sse::SseOutputs<float> out;
  out.o = {o.data(), {B, T, H, V}};
  out.ht = {ht.data(), {B, 1 + N, H, K, V}};  // [S,1+N,H,K,V]: index 0 the shared state

  sse::AttentionOptions options;  // writers = readers = 1, emulq = emulk = on: the defaults
  sse::ThreadPool pool;           // all cores
  sse::sse_attention<sse::GlaRule>(in, out, options, pool);  // the sparse path: k = k_w = k_r

  const auto ref = sse::reference::sse_attention<sse::GlaRule>(in, options);  // float64, masked
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    diff += (o[i] - ref.o[i]) * (o[i] - ref.o[i]);
    norm += ref.o[i] * ref.o[i];
  }
  std::printf("SSE-GLA B=%ld T=%ld H=%ld K=%ld V=%ld N=%ld k=1 on %zu threads (%s)\n", B, T, H, K,
              V, N, pool.concurrency(), sse::default_arch::name());
  std::printf("o[0, T-1, 0, :4] = %.5f %.5f %.5f %.5f\n", o[(T - 1) * H * V],
              o[(T - 1) * H * V + 1], o[(T - 1) * H * V + 2], o[(T - 1) * H * V + 3]);
  std::printf("relative error vs float64 reference: %.2e\n", std::sqrt(diff / norm));
  return std::sqrt(diff / norm) < 1e-4 ? 0 : 1;
}
