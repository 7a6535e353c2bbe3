#pragma once

// Options that several sse-run commands share, parsed in one place: --threads and --repeat
// (every command), --in/--out (scan, attention), --path (attention, layer), and the
// recurrence options --scale, --qk-l2norm / --no-qk-l2norm, --allow-neg-eigval, --mode,
// --key-rows; and library errors named the way the user spelled them (a flag, a file).

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "npy_files.hpp"
#include <sse/attention/options.hpp>
#include <sse/error.hpp>
#include <sse/kernels/scan_options.hpp>

namespace sse_run {

/// Every command: --threads N (default: all cores) and --repeat R.
inline const std::vector<std::string> kRunOptions = {"--threads", "--repeat"};
/// The recurrence's options and flags (scan, attention).
inline const std::vector<std::string> kRecurrenceOptions = {"--scale", "--mode", "--key-rows"};
inline const std::vector<std::string> kRecurrenceFlags = {"--qk-l2norm", "--no-qk-l2norm",
                                                          "--allow-neg-eigval"};

/// --threads N in [1, 4096]; 0 (absent) means every core.
inline long threads_option(const Args& args) { return args.integer("--threads", 0, 1, 4096); }
/// --repeat R in [1, 10^6], default 1.
inline long repeat_option(const Args& args) { return args.integer("--repeat", 1, 1, 1000000); }

/// --mode {auto|chunk|recurrent}, default auto.
inline sse::Mode mode_option(const Args& args) {
  const std::string mode = args.choice("--mode", {"auto", "chunk", "recurrent"}, "auto");
  return mode == "chunk"       ? sse::Mode::kChunk
         : mode == "recurrent" ? sse::Mode::kRecurrent
                               : sse::Mode::kAuto;
}

/// --path {auto|masked|sparse}, default auto.
inline sse::Path path_option(const Args& args) {
  const std::string path = args.choice("--path", {"auto", "masked", "sparse"}, "auto");
  return path == "masked"   ? sse::Path::kMasked
         : path == "sparse" ? sse::Path::kSparse
                            : sse::Path::kAuto;
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

/// Where a command reads and writes, and how it runs.
struct RunSettings {
  std::string in_dir, out_dir;
  long threads;  // 0: every core
  long repeat;
};

inline RunSettings run_settings(const Args& args) {
  return {args.required("--in"), args.required("--out"), threads_option(args), repeat_option(args)};
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

/// The flag of a library option: key_rows -> --key-rows.
inline std::string flag_of(std::string option) {
  std::replace(option.begin(), option.end(), '_', '-');
  return "--" + option;
}

/// A library error named as the user gave it, from what it is about (Status::subject): an
/// option among `options` by its flag, a tensor among `files` by its file DIR/<name>.npy;
/// anything else as the library says it. `suffix` is added to an option's message.
inline std::string tool_message(const sse::Status& status, const std::string& dir,
                                const std::vector<std::string>& files,
                                const std::vector<std::string>& options,
                                const std::string& suffix = "") {
  const std::string& subject = status.subject();
  if (std::find(options.begin(), options.end(), subject) != options.end()) {
    return flag_of(subject) + ": " + status.detail() + suffix;
  }
  if (std::find(files.begin(), files.end(), subject) != files.end()) {
    return npy_path(dir, subject) + ": " + status.detail();
  }
  return status.message();
}

}  // namespace sse_run
