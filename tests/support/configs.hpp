#pragma once

// Typed-test configurations: a rule and an element type, named "gla_float", "gdn_double", ...

#include <string>

namespace sse::test {

template <class R, class T>
struct Config {
  using Rule = R;
  using Type = T;
};

struct ConfigNames {
  template <class C>
  static std::string GetName(int) {
    return std::string(C::Rule::kName) + (sizeof(typename C::Type) == 4 ? "_float" : "_double");
  }
};

}  // namespace sse::test
