#pragma once

/// \file
/// JSON text (config.json, a safetensors header) parsed with nlohmann-json, with a one-line
/// message saying where malformed text goes wrong. Works with and without exceptions: the
/// position comes from a SAX pass, not from a caught parse_error.

#include <cstddef>
#include <string>

#include "sse/error.hpp"

#include <nlohmann/json.hpp>

namespace sse::io {

namespace detail {

/// A SAX consumer that accepts every event and keeps the parser's error message.
class JsonErrorRecorder : public nlohmann::json_sax<nlohmann::json> {
 public:
  using json = nlohmann::json;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(json::number_integer_t) override { return true; }
  bool number_unsigned(json::number_unsigned_t) override { return true; }
  bool number_float(json::number_float_t, const json::string_t&) override { return true; }
  bool string(json::string_t&) override { return true; }
  bool binary(json::binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(json::string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& error) override {
    message_ = error.what();
    return false;
  }
  /// "parse error at line L, column C: <why>" (nlohmann's text without its "[json...]" tag).
  std::string message() const {
    const std::size_t tag_end = message_.find("] ");
    return tag_end == std::string::npos ? message_ : message_.substr(tag_end + 2);
  }

 private:
  std::string message_;
};

}  // namespace detail

/// Parses `size` bytes of JSON text at `text` into `out`. Malformed text gives "not valid JSON:
/// parse error at line L, column C: ..." (file text in it quoted on one line).
inline Status parse_json(const char* text, std::size_t size, nlohmann::json& out) {
  out = nlohmann::json::parse(text, text + size, nullptr, /*allow_exceptions=*/false);
  if (!out.is_discarded()) return {};
  detail::JsonErrorRecorder recorder;
  nlohmann::json::sax_parse(text, text + size, &recorder);
  return Status::error("not valid JSON: " + sse::detail::quoted_text(recorder.message(), 240));
}

inline Status parse_json(const std::string& text, nlohmann::json& out) {
  return parse_json(text.data(), text.size(), out);
}

}  // namespace sse::io
