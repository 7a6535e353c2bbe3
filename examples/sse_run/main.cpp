// sse-run: the command-line tool of DESIGN.md section 6. Arrays in and out are .npy files.
// Exit status: 0 on success; 2 on any bad input (one line on stderr naming the file and the
// problem; no output written); 1 on a failure to write the outputs.

#include <cstdio>
#include <exception>
#include <string>

#include "attention_command.hpp"
#include "cli.hpp"
#include "generate_command.hpp"
#include "layer_command.hpp"
#include "scan_command.hpp"

namespace {

constexpr const char* kUsage =
    "usage: sse-run <command> [options]\n"
    "commands:\n"
    "  attention --base {gla|gdn} --in DIR --out DIR [--writers KW] [--readers KR]\n"
    "       [--no-emulq] [--no-emulk] [--scale S] [--qk-l2norm | --no-qk-l2norm]\n"
    "       [--allow-neg-eigval] [--path {auto|masked|sparse}] [--mode {auto|chunk|recurrent}]\n"
    "       [--threads N] [--repeat R] [--key-rows R]\n"
    "       the SSE operator: q1, q2, k1, k2, v, eta, g1, g2[, beta1, beta2][, h0][, cu_seqlens]\n"
    "       -> o, ht\n"
    "  layer --base {gla|gdn} --weights DIR --heads H --in x.npy --out DIR [--v-heads HV]\n"
    "       [--writers KW] [--readers KR] [--norm-eps E] [--allow-neg-eigval]\n"
    "       [--no-output-gate] [--short-conv] [--path ...] [--mode ...] [--threads N]\n"
    "       [--repeat R]\n"
    "       one SSE-GLA or SSE-GDN layer: <state_dict key>.npy weights, x [B,T,D] -> y\n"
    "  generate --model DIR --tokens I,J,... --max-new N [--logits FILE] [--threads N]\n"
    "       [--repeat R]\n"
    "       an SSE-H model (config.json + model.safetensors): greedy ids on stdout\n"
    "  --key-rows R (GLA): the row-level sparse update; keys are logits, each token writes\n"
    "       its top-R state rows\n"
    "  scan --base {gla|gdn} --in DIR --out DIR [--scale S] [--qk-l2norm | --no-qk-l2norm]\n"
    "       [--allow-neg-eigval] [--mode {auto|chunk|recurrent}] [--threads N] [--repeat R]\n"
    "       [--key-rows R]\n"
    "       one GLA or Gated DeltaNet recurrence: q, k, v, g[, beta][, h0][, cu_seqlens] -> o, "
    "ht\n";

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command == "scan") return sse_run::scan_command(argc, argv);
    if (command == "attention") return sse_run::attention_command(argc, argv);
    if (command == "layer") return sse_run::layer_command(argc, argv);
    if (command == "generate") return sse_run::generate_command(argc, argv);
    if (command == "--help" || command == "-h" || command == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    throw sse_run::UsageError(command.empty()
                                  ? "missing command (try sse-run --help)"
                                  : "unknown command '" + command + "' (try sse-run --help)");
  } catch (const sse_run::UsageError& e) {
    std::fprintf(stderr, "sse-run %s: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sse-run %s: %s\n", command.c_str(), e.what());
    return 1;
  }
}
