#pragma once

// The bad-input harness of the entry points' validation tests: each bad input spoils a fresh
// valid problem; validate must fail with a one-line message containing the expected text, the
// entry point must throw exactly that message, and every output buffer must keep its bits.
//
// An entry point describes itself with a harness:
//   struct Harness {
//     using Case, In, Out, Options;
//     static Case make_case();
//     static Out outputs(Case&);  static Options options(const Case&);
//     static Status validate(const In&, const Out&, const Options&);
//     static void run(const In&, const Out&, const Options&);        // throws
//     static std::vector<NamedBytes> buffers(const Case&);           // what must not change
//   };

#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "sse/error.hpp"

namespace sse::test {

/// A buffer's name and bytes, to check that nothing was written.
struct NamedBytes {
  std::string name;
  std::vector<unsigned char> bytes;
};

template <class T>
NamedBytes bytes_of(std::string name, const std::vector<T>& data) {
  std::vector<unsigned char> bytes(data.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), data.data(), bytes.size());
  return {std::move(name), std::move(bytes)};
}

/// One bad input: `mutate` spoils the case, its views or its options; `expected` is a
/// substring of the message.
template <class Harness>
struct BadInput {
  const char* what;
  std::function<void(typename Harness::Case&, typename Harness::In&, typename Harness::Out&,
                     typename Harness::Options&)>
      mutate;
  const char* expected;
};

template <class Harness>
void expect_rejected(const std::vector<BadInput<Harness>>& cases) {
  for (const BadInput<Harness>& bad : cases) {
    typename Harness::Case c = Harness::make_case();
    typename Harness::In in = c.inputs();
    typename Harness::Out out = Harness::outputs(c);
    typename Harness::Options options = Harness::options(c);
    bad.mutate(c, in, out, options);
    const std::vector<NamedBytes> before = Harness::buffers(c);

    const Status status = Harness::validate(in, out, options);
    ASSERT_FALSE(status.ok()) << bad.what;
    EXPECT_NE(status.message().find(bad.expected), std::string::npos)
        << bad.what << ": \"" << status.message() << "\" lacks \"" << bad.expected << "\"";
    EXPECT_EQ(status.message().find('\n'), std::string::npos) << "one line: " << bad.what;
    try {
      Harness::run(in, out, options);
      ADD_FAILURE() << bad.what << ": no exception";
    } catch (const sse::invalid_argument& e) {
      EXPECT_EQ(status.message(), e.what()) << bad.what;
    }
    const std::vector<NamedBytes> after = Harness::buffers(c);
    for (std::size_t i = 0; i < before.size(); ++i) {
      EXPECT_TRUE(before[i].bytes == after[i].bytes)
          << bad.what << ": " << before[i].name << " was written";
    }
  }
}

}  // namespace sse::test
