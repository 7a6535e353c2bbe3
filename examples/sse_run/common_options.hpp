#pragma once

// Options that several sse-run subcommands share: --mode, --qk-l2norm / --no-qk-l2norm.

#include <optional>
#include <string>

#include "cli.hpp"
#include <sse/kernels/scan_options.hpp>

namespace sse_run {

/// --mode {auto|chunk|recurrent}, default auto.
inline sse::Mode mode_option(const Args& args) {
  const std::string mode = args.choice("--mode", {"auto", "chunk", "recurrent"}, "auto");
  return mode == "chunk"       ? sse::Mode::kChunk
         : mode == "recurrent" ? sse::Mode::kRecurrent
                               : sse::Mode::kAuto;
}

/// --qk-l2norm or --no-qk-l2norm; neither means the rule's default.
inline std::optional<bool> qk_l2norm_option(const Args& args) {
  if (args.has("--qk-l2norm") && args.has("--no-qk-l2norm")) {
    throw UsageError("--qk-l2norm and --no-qk-l2norm exclude each other");
  }
  if (args.has("--qk-l2norm")) return true;
  if (args.has("--no-qk-l2norm")) return false;
  return std::nullopt;
}

}  // namespace sse_run
