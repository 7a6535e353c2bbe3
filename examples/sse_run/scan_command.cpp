// `sse-run scan`: one base recurrence (GLA or Gated DeltaNet) on .npy files (DESIGN.md
// section 6; the usage text below). --key-rows R (GLA, beyond section 6): the row-level sparse
// update of section 2b, k being key logits.

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "common_options.hpp"
#include "npy_files.hpp"
#include "timing.hpp"
#include <sse/sse.hpp>

namespace sse_run {
namespace {

constexpr const char* kUsage =
    "scan --base {gla|gdn} --in DIR --out DIR [--scale S] [--qk-l2norm | --no-qk-l2norm]\n"
    "     [--allow-neg-eigval] [--mode {auto|chunk|recurrent}] [--key-rows R]\n"
    "     [--threads N] [--repeat R]\n"
    "  one GLA or Gated DeltaNet recurrence: q, k [B,T,H,K], v [B,T,H,V], g [B,T,H,K] (gla)\n"
    "  or [B,T,H] (gdn), beta [B,T,H] (gdn)[, h0 [B or S,H,K,V]][, cu_seqlens [S+1]]\n"
    "  -> o [B,T,H,V], ht [B or S,H,K,V]; --key-rows R (gla): k holds key logits and each\n"
    "  token writes its top-R state rows\n";

/// The input files of `scan`, named in error messages.
const std::vector<std::string> kScanFiles = {"q", "k", "v", "g", "beta", "h0", "cu_seqlens"};

template <class Rule>
int run_scan(const Args& args) {
  const auto [in_dir, out_dir, threads, repeat] = run_settings(args);

  sse::ScanOptions options;
  read_recurrence_options(args, options);

  const FloatArray q = load_float(in_dir, "q", 4, "[B,T,H,K]");
  const FloatArray k = load_float(in_dir, "k", 4, "[B,T,H,K]");
  const FloatArray v = load_float(in_dir, "v", 4, "[B,T,H,V]");
  const FloatArray g = Rule::kPerKeyDecay ? load_float(in_dir, "g", 4, "[B,T,H,K]")
                                          : load_float(in_dir, "g", 3, "[B,T,H]");
  const FloatArray beta = Rule::kHasBeta ? load_float(in_dir, "beta", 3, "[B,T,H]") : FloatArray{};
  const FloatArray h0 = load_float(in_dir, "h0", 4, "[B or S,H,K,V]", /*optional=*/true);
  const std::vector<std::int64_t> cu_seqlens = load_cu_seqlens(in_dir);

  sse::ScanInputs<Rule> in;
  in.q = view_of<4>(q);
  in.k = view_of<4>(k);
  in.v = view_of<4>(v);
  in.g = view_of<sse::gate_rank_v<Rule>>(g);
  in.beta = view_of<3>(beta);
  in.h0 = view_of<4>(h0);
  if (!cu_seqlens.empty()) {
    in.cu_seqlens = {cu_seqlens.data(), {static_cast<sse::index_t>(cu_seqlens.size())}};
  }

  const sse::ScanDims d = sse::scan_dims(in);
  const std::vector<sse::index_t> o_shape{d.B, d.T, d.H, d.V};
  const std::vector<sse::index_t> ht_shape{d.S, d.H, d.K, d.V};
  std::vector<float> o(static_cast<std::size_t>(d.B * d.T * d.H * d.V));
  std::vector<float> ht(static_cast<std::size_t>(std::max<sse::index_t>(d.S, 0) * d.H * d.K * d.V));
  sse::ScanOutputs<float> out;
  out.o = {o.data(), {d.B, d.T, d.H, d.V}};
  out.ht = {ht.data(), {d.S, d.H, d.K, d.V}};

  if (const sse::Status status = sse::validate_scan(in, out, options); !status) {
    throw UsageError(tool_message(status, in_dir, kScanFiles, {"scale", "key_rows"}));
  }
  sse::ThreadPool pool(static_cast<std::size_t>(threads));
  std::vector<std::byte> workspace(sse::scan_workspace_size<Rule>(in, out, pool));
  // ht is a separate buffer from h0, so every repetition starts from the same state.
  run_timed(repeat, [&] {
    sse::scan<Rule>(in, out, options, pool, sse::Workspace(workspace.data(), workspace.size()));
  });

  OutputSet outputs(out_dir);
  outputs.add("o", o, o_shape);
  outputs.add("ht", ht, ht_shape);
  outputs.commit();
  return 0;
}

int scan_command(int argc, char** argv) {
  const Args args(argc, argv, 2,
                  names({{"--base", "--in", "--out"}, kRecurrenceOptions, kRunOptions}),
                  names({kRecurrenceFlags}));
  const std::string base = args.choice("--base", {"gla", "gdn"}, "");
  return base == "gla" ? run_scan<sse::GlaRule>(args) : run_scan<sse::GdnRule>(args);
}

}  // namespace

const Command kScanCommand = {"scan", kUsage, &scan_command};

}  // namespace sse_run
