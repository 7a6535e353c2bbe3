// A downstream program: includes the umbrella header, sees the version, runs one scan.
#include <cmath>
#include <cstdio>
#include <vector>

#include <sse/sse.hpp>

static_assert(SSE_VERSION_MAJOR >= 0, "the version macros come with the headers");

int main() {
  const long B = 1, T = 40, H = 2, K = 8, V = 8;
  std::vector<float> q(B * T * H * K), k(q.size()), v(B * T * H * V), g(q.size()), o(v.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    q[i] = std::sin(0.1f * i);
    k[i] = std::cos(0.3f * i);
    g[i] = -0.05f * (i % 7);
  }
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.7f * i);
  sse::ScanInputs<sse::GlaRule> in;
  in.q = {q.data(), {B, T, H, K}};
  in.k = {k.data(), {B, T, H, K}};
  in.v = {v.data(), {B, T, H, V}};
  in.g = {g.data(), {B, T, H, K}};
  sse::ScanOutputs<float> out;
  out.o = {o.data(), {B, T, H, V}};
  sse::scan<sse::GlaRule>(in, out);
  const auto ref = sse::reference::scan<sse::GlaRule>(in);
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    diff += (o[i] - ref.o[i]) * (o[i] - ref.o[i]);
    norm += ref.o[i] * ref.o[i];
  }
  const double err = std::sqrt(diff / norm);
  std::printf("sse %d.%d.%d (%s): relative error %.2e\n", SSE_VERSION_MAJOR, SSE_VERSION_MINOR,
              SSE_VERSION_PATCH, sse::default_arch::name(), err);
  return err < 1e-5 ? 0 : 1;
}
