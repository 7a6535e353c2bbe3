#pragma once

// Command-line parsing for sse-run: `--name value` options and `--flag` switches, every
// problem reported as a UsageError (exit status 2).

#include <cstdlib>
#include <initializer_list>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace sse_run {

/// Bad input: the message is printed on one line and the tool exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The union of option (or flag) name lists: a command's own and the shared ones.
inline std::set<std::string> names(std::initializer_list<std::vector<std::string>> lists) {
  std::set<std::string> all;
  for (const auto& list : lists) all.insert(list.begin(), list.end());
  return all;
}

class Args {
 public:
  /// Parses argv[first..]: each token must be a known option (taking the next token as its
  /// value) or a known flag.
  Args(int argc, char** argv, int first, const std::set<std::string>& options,
       const std::set<std::string>& flags) {
    for (int i = first; i < argc; ++i) {
      const std::string token = argv[i];
      if (options.count(token)) {
        if (i + 1 >= argc) throw UsageError(token + ": missing value");
        if (values_.count(token)) throw UsageError(token + ": given twice");
        values_[token] = argv[++i];
      } else if (flags.count(token)) {
        flags_.insert(token);
      } else {
        throw UsageError("unknown argument '" + token + "'");
      }
    }
  }

  bool has(const std::string& name) const { return values_.count(name) || flags_.count(name); }

  std::string get(const std::string& name, const std::string& fallback = "") const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }

  std::string required(const std::string& name) const {
    if (!values_.count(name)) throw UsageError(name + " is required");
    return values_.at(name);
  }

  /// An integer option in [lo, hi].
  long integer(const std::string& name, long fallback, long lo, long hi) const {
    if (!values_.count(name)) return fallback;
    const std::string& text = values_.at(name);
    char* end = nullptr;
    const long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value < lo || value > hi) {
      throw UsageError(name + ": expected an integer in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "], got '" + text + "'");
    }
    return value;
  }

  /// A finite real option, if given.
  bool real(const std::string& name, double& out) const {
    if (!values_.count(name)) return false;
    const std::string& text = values_.at(name);
    char* end = nullptr;
    out = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !(out == out) || out - out != 0) {
      throw UsageError(name + ": expected a finite number, got '" + text + "'");
    }
    return true;
  }

  /// One of `choices`.
  std::string choice(const std::string& name, const std::vector<std::string>& choices,
                     const std::string& fallback) const {
    const std::string value = get(name, fallback);
    for (const auto& c : choices) {
      if (c == value) return value;
    }
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : "|") + c;
    throw UsageError(name + ": expected one of {" + list + "}, got '" + value + "'");
  }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
};

}  // namespace sse_run
