// sse-run: the command-line tool of DESIGN.md section 6. Arrays in and out are .npy files.
// Exit status: 0 on success; 2 on any bad input (one line on stderr naming the file, flag or
// key; no output written); 1 on a failure to write the outputs.

#include <cstdio>
#include <exception>
#include <string>

#include "cli.hpp"
#include "commands.hpp"

namespace {

const sse_run::Command* const kCommands[] = {&sse_run::kAttentionCommand, &sse_run::kScanCommand,
                                             &sse_run::kLayerCommand, &sse_run::kGenerateCommand};

bool is_help(const std::string& word) { return word == "--help" || word == "-h" || word == "help"; }

void print_usage(const sse_run::Command* only) {
  std::fputs(only != nullptr ? "usage: sse-run " : "usage: sse-run <command> [options]\n", stdout);
  for (const sse_run::Command* command : kCommands) {
    if (only == nullptr || only == command) {
      std::fputs(only != nullptr ? "" : "  sse-run ", stdout);
      std::fputs(command->usage, stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "";
  try {
    if (is_help(name)) {
      print_usage(nullptr);
      return 0;
    }
    for (const sse_run::Command* command : kCommands) {
      if (name != command->name) continue;
      if (argc == 3 && is_help(argv[2])) {
        print_usage(command);
        return 0;
      }
      return command->run(argc, argv);
    }
    throw sse_run::UsageError(name.empty() ? "missing command (try sse-run --help)"
                                           : "unknown command '" + name + "' (try sse-run --help)");
  } catch (const sse_run::UsageError& e) {
    std::fprintf(stderr, "sse-run %s: %s\n", name.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sse-run %s: %s\n", name.c_str(), e.what());
    return 1;
  }
}
