// Built with -fno-exceptions: the headers compile, validate_scan reports bad input as a
// Status, and a valid scan runs. (No GoogleTest here: it needs exceptions for some features.)

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
  return std::sqrt(diff / norm) < 1e-5 ? 0 : 1;
}
