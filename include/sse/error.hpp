#pragma once

/// \file
/// The error model (DESIGN.md section 7). Public entry points validate every input before
/// writing anything. Validation produces a `Status`; an entry point that receives bad input
/// throws `sse::invalid_argument` with the status message, or, in a build without exceptions,
/// calls the overridable error handler (which must not return; the default prints the message
/// and aborts). Callers built with -fno-exceptions call the `validate(...)` functions first.

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

#include "sse/config.hpp"

namespace sse {

namespace detail {

/// Text from a file (a key, a dtype) as an error message may quote it: on one line, printable
/// ASCII kept, every other byte as \xNN, cut after `max_shown` characters.
inline std::string quoted_text(const std::string& text, std::size_t max_shown = 64) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max_shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  if (text.size() > max_shown) out += "...";
  return out;
}

}  // namespace detail

/// Thrown by every public entry point on bad input; nothing has been written when it is thrown.
/// The message names the tensor and what is wrong, e.g.
/// "q: expected shape [B,T,H,K] = [2,64,4,32], got [2,64,4,16]"; `subject()` is what the
/// message is about ("q"), so a tool can name its own file or flag for it.
class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
  invalid_argument(const std::string& message, std::string subject)
      : std::invalid_argument(message), subject_(std::move(subject)) {}
  /// The tensor, option or key the error is about (empty when it is about no one of them).
  const std::string& subject() const noexcept { return subject_; }

 private:
  std::string subject_;
};

/// The outcome of a validation: ok, or the first problem found, as a message and what it is
/// about: a tensor ("k2"), an option ("key_rows") or a config key ("expand_v").
class Status {
 public:
  Status() = default;
  /// A problem about nothing in particular (the message says what).
  static Status error(std::string message) {
    std::string detail = message;
    return Status(std::move(message), {}, std::move(detail));
  }
  /// A problem about `subject`: the message is "<subject>: <detail>" (the subject quoted as
  /// file text is, in case it came from a file).
  static Status error(std::string subject, std::string detail) {
    std::string message = detail::quoted_text(subject) + ": " + detail;
    return Status(std::move(message), std::move(subject), std::move(detail));
  }

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  /// Empty when ok.
  const std::string& message() const noexcept { return message_; }
  /// The tensor, option or key the problem is about; empty when ok or about none.
  const std::string& subject() const noexcept { return subject_; }
  /// What is wrong with the subject: the message without "<subject>: " (all of it when there
  /// is no subject). A tool names the subject its own way, then adds this.
  const std::string& detail() const noexcept { return detail_; }

 private:
  Status(std::string message, std::string subject, std::string detail)
      : message_(std::move(message)),
        subject_(std::move(subject)),
        detail_(std::move(detail)),
        failed_(true) {}
  std::string message_;
  std::string subject_;
  std::string detail_;
  bool failed_ = false;
};

/// Called with the message when an entry point meets bad input in a build without exceptions.
/// It must not return (if it does, sse aborts).
using ErrorHandler = void (*)(const char* message);

namespace detail {

inline void default_error_handler(const char* message) {
  std::fprintf(stderr, "sse: %s\n", message);
  std::abort();
}

inline ErrorHandler& error_handler_slot() noexcept {
  static ErrorHandler handler = &default_error_handler;
  return handler;
}

}  // namespace detail

/// Installs `handler` (nullptr restores the default) and returns the previous one.
inline ErrorHandler set_error_handler(ErrorHandler handler) noexcept {
  ErrorHandler previous = detail::error_handler_slot();
  detail::error_handler_slot() = handler ? handler : &detail::default_error_handler;
  return previous;
}

#if SSE_HAS_EXCEPTIONS
/// Reports bad input at an entry point: throws sse::invalid_argument.
[[noreturn]] inline void report_invalid_argument(const std::string& message,
                                                 const std::string& subject = {}) {
  throw invalid_argument(message, subject);
}
#else
/// Reports bad input at an entry point: calls the error handler, then aborts.
[[noreturn]] inline void report_invalid_argument(const std::string& message,
                                                 const std::string& /*subject*/ = {}) {
  detail::error_handler_slot()(message.c_str());
  std::abort();
}
#endif

/// Throws (or reports) when `status` holds an error.
inline void throw_if_error(const Status& status) {
  if (!status.ok()) report_invalid_argument(status.message(), status.subject());
}

}  // namespace sse
