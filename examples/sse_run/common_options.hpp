#pragma once

// Options that several sse-run subcommands share: --in, --out, --threads, --repeat, and the
// recurrence options --scale, --qk-l2norm / --no-qk-l2norm, --allow-neg-eigval, --mode,
// --key-rows.

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

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

/// Where a subcommand reads and writes, and how it runs.
struct RunSettings {
  std::string in_dir, out_dir;
  long threads;  // 0: every core
  long repeat;
};

inline RunSettings run_settings(const Args& args) {
  return {args.required("--in"), args.required("--out"), args.integer("--threads", 0, 1, 4096),
          args.integer("--repeat", 1, 1, 1000000)};
}

/// The options of a recurrence, shared by sse::ScanOptions and sse::AttentionOptions.
template <class Options>
void read_recurrence_options(const Args& args, Options& options) {
  double scale = 0;
  if (args.real("--scale", scale)) options.scale = scale;
  options.qk_l2norm = qk_l2norm_option(args);
  options.allow_neg_eigval = args.has("--allow-neg-eigval");
  options.mode = mode_option(args);
  options.key_rows = args.integer("--key-rows", 0, 0, 1 << 20);
}

/// A library message about an option ("key_rows: ...") rewritten to name the command-line flag
/// ("--key-rows: ..."); whether it was one of `options`.
inline bool names_option(std::string& message, const std::vector<std::string>& options) {
  for (const std::string& option : options) {
    if (message.compare(0, option.size() + 1, option + ":") == 0) {
      std::string flag = option;
      std::replace(flag.begin(), flag.end(), '_', '-');
      message = "--" + flag + message.substr(option.size());
      return true;
    }
  }
  return false;
}

}  // namespace sse_run
