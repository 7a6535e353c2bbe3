#pragma once

// Comparison helpers: relative error against a float64 oracle, NaN poisoning of outputs.

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace sse::test {

/// ||out - ref|| / ||ref|| (Frobenius); infinite if out has a NaN or the sizes differ, and the
/// plain ||out|| if ref is zero.
template <class T, class U>
double rel_error(const std::vector<T>& out, const std::vector<U>& ref) {
  if (out.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double o = static_cast<double>(out[i]);
    const double r = static_cast<double>(ref[i]);
    if (!std::isfinite(o)) return std::numeric_limits<double>::infinity();
    diff += (o - r) * (o - r);
    norm += r * r;
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

/// A buffer of n quiet NaNs: an element the kernel fails to write fails the comparison.
template <class T>
std::vector<T> poisoned(std::size_t n) {
  return std::vector<T>(n, std::numeric_limits<T>::quiet_NaN());
}

/// Bitwise equality (NaNs with equal bits compare equal).
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

/// The relative tolerance of a kernel against the float64 oracle.
template <class T>
constexpr double tolerance() {
  return sizeof(T) == 4 ? 1e-5 : 1e-12;
}

/// The same computation on data at other addresses: Eigen picks its summation order for small
/// products from the data's alignment, so equal math may differ in the last bits. Same
/// addresses (thread counts, workspaces) are compared bit for bit instead.
template <class T>
constexpr double layout_tolerance() {
  return sizeof(T) == 4 ? 1e-6 : 1e-14;
}

}  // namespace sse::test
