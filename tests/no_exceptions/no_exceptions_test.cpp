// Built with -fno-exceptions: the headers compile, validate_scan and validate_sse_attention
// report bad input as a Status, and a valid scan and a valid SSE call run. (No GoogleTest here: it
// needs exceptions for some features.)

#include <cmath>
#include <cstdio>
#include <vector>

#include "sse/sse.hpp"

static_assert(!SSE_HAS_EXCEPTIONS, "this test must be compiled with -fno-exceptions");

int main() {
  const long T = 30, H = 2, K = 5, V = 7;
  std::vector<float> q(T * H * K), k(q.size()), g(q.size()), v(T * H * V), o(v.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    q[i] = std::sin(1.0f + i), k[i] = std::cos(2.0f * i), g[i] = -0.1f * (i % 5);
  }
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.5f * i);
  sse::ScanInputs<sse::GlaRule> in;
  in.q = {q.data(), {1, T, H, K}};
  in.k = {k.data(), {1, T, H, K}};
  in.v = {v.data(), {1, T, H, V}};
  in.g = {g.data(), {1, T, H, K}};
  sse::ScanOutputs<float> out;
  out.o = {o.data(), {1, T, H, V}};

  g[3] = 1.0f;  // bad: a positive log decay
  const sse::Status bad = sse::validate_scan(in, out);
  if (bad.ok() || bad.message().find("g: element") != 0) {
    std::printf("FAILED: expected a g error, got '%s'\n", bad.message().c_str());
    return 1;
  }
  g[3] = -1.0f;
  if (!sse::validate_scan(in, out).ok()) return 1;
  sse::scan<sse::GlaRule>(in, out);
  const auto ref = sse::reference::scan<sse::GlaRule>(in);
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    diff += (o[i] - ref.o[i]) * (o[i] - ref.o[i]);
    norm += ref.o[i] * ref.o[i];
  }
  std::printf("no-exceptions scan: relative error %.2e\n", std::sqrt(diff / norm));
  if (!(std::sqrt(diff / norm) < 1e-5)) return 1;

  // The SSE operator: q2, k2 reuse q, k; two partitions.
  const long N = 2;
  std::vector<float> eta(T * N), ht((1 + N) * H * K * V);
  for (std::size_t i = 0; i < eta.size(); ++i) eta[i] = std::sin(3.0f * i);
  sse::SseInputs<sse::GlaRule> sse_in;
  sse_in.q1 = sse_in.q2 = in.q;
  sse_in.k1 = sse_in.k2 = in.k;
  sse_in.v = in.v;
  sse_in.g1 = sse_in.g2 = in.g;
  sse_in.eta = {eta.data(), {1, T, N}};
  sse::SseOutputs<float> sse_out;
  sse_out.o = out.o;
  sse_out.ht = {ht.data(), {1, 1 + N, H, K, V}};
  sse::AttentionOptions options;
  options.writers = 3;  // bad: k > N
  const sse::Status bad_k = sse::validate_sse_attention(sse_in, sse_out, options);
  if (bad_k.ok() || bad_k.message().find("writers: expected 1 <= k <= N") != 0) {
    std::printf("FAILED: expected a writers error, got '%s'\n", bad_k.message().c_str());
    return 1;
  }
  options.writers = 1;
  if (!sse::validate_sse_attention(sse_in, sse_out, options).ok()) return 1;
  sse::sse_attention<sse::GlaRule>(sse_in, sse_out, options);
  const auto sse_ref = sse::reference::sse_attention<sse::GlaRule>(sse_in, options);
  diff = 0, norm = 0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    diff += (o[i] - sse_ref.o[i]) * (o[i] - sse_ref.o[i]);
    norm += sse_ref.o[i] * sse_ref.o[i];
  }
  std::printf("no-exceptions sse_attention: relative error %.2e\n", std::sqrt(diff / norm));
  return std::sqrt(diff / norm) < 1e-5 ? 0 : 1;
}
