// quickstart: run a chunked GLA scan on random inputs, on every core, and check it against the
// float64 reference that ships with the library.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <sse/sse.hpp>

int main() {
  const long B = 1, T = 1024, H = 4, K = 64, V = 64;  // batch, tokens, heads, key and value dims
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> decay(-1.0f, 0.0f);
  std::vector<float> q(B * T * H * K), k(q.size()), g(q.size()), v(B * T * H * V);
  for (float& x : q) x = normal(rng);
  for (float& x : k) x = normal(rng);
  for (float& x : v) x = normal(rng);
  for (float& x : g) x = decay(rng);  // log decays, <= 0

  sse::ScanInputs<sse::GlaRule> in;  // views: pointer + shape, C order
  in.q = {q.data(), {B, T, H, K}};
  in.k = {k.data(), {B, T, H, K}};
  in.v = {v.data(), {B, T, H, V}};
  in.g = {g.data(), {B, T, H, K}};
  std::vector<float> o(B * T * H * V), ht(B * H * K * V);
  sse::ScanOutputs<float> out{{o.data(), {B, T, H, V}}, {ht.data(), {B, H, K, V}}};

  sse::ThreadPool pool;  // all cores
  sse::scan<sse::GlaRule>(in, out, sse::ScanOptions{}, pool);

  const auto ref = sse::reference::scan<sse::GlaRule>(in);  // float64, token by token
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    diff += (o[i] - ref.o[i]) * (o[i] - ref.o[i]);
    norm += ref.o[i] * ref.o[i];
  }
  std::printf("GLA scan B=%ld T=%ld H=%ld K=%ld V=%ld on %zu threads (%s)\n", B, T, H, K, V,
              pool.concurrency(), sse::default_arch::name());
  std::printf("o[0, T-1, 0, :4] = %.5f %.5f %.5f %.5f\n", o[(T - 1) * H * V],
              o[(T - 1) * H * V + 1], o[(T - 1) * H * V + 2], o[(T - 1) * H * V + 3]);
  std::printf("relative error vs float64 reference: %.2e\n", std::sqrt(diff / norm));
  return std::sqrt(diff / norm) < 1e-4 ? 0 : 1;
}
