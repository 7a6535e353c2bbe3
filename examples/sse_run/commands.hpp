#pragma once

// The commands of sse-run (DESIGN.md section 6), each in its own translation unit: its usage
// text (printed by `sse-run <command> --help` and, with the others', by `sse-run --help`) and
// its entry point. Exit status: 0 on success; 2 on bad input (one line on stderr naming the
// file, flag or key; no output written); 1 on a failure to write the outputs.

namespace sse_run {

struct Command {
  const char* name;
  const char* usage;  // the synopsis, the options, one line on what it computes
  int (*run)(int argc, char** argv);
};

extern const Command kScanCommand;
extern const Command kAttentionCommand;
extern const Command kLayerCommand;
extern const Command kGenerateCommand;

}  // namespace sse_run
