#pragma once

// `sse-run scan`: one base recurrence (GLA or Gated DeltaNet) on .npy files (DESIGN.md
// section 6).
//
//   sse-run scan --base {gla|gdn} --in DIR --out DIR [--scale S] [--qk-l2norm | --no-qk-l2norm]
//                [--allow-neg-eigval] [--mode {auto|chunk|recurrent}] [--threads N] [--repeat R]
//                [--key-rows R]   (GLA: the row-level sparse update of DESIGN.md section 2b)
//
// Inputs in DIR: q, k [B,T,H,K]; v [B,T,H,V]; GLA g [B,T,H,K]; GDN g, beta [B,T,H]; optional
// h0 [B or S,H,K,V]; optional cu_seqlens (int32 or int64, [S+1], B = 1).
// Outputs: o [B,T,H,V], ht [B or S,H,K,V].

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "common_options.hpp"
#include "npy_files.hpp"
#include "timing.hpp"
#include <sse/sse.hpp>

namespace sse_run {

/// The input files of `scan`, named in error messages.
inline const std::vector<std::string> kScanFiles = {"q", "k", "v", "g", "beta", "h0", "cu_seqlens"};

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
    std::string message = status.message();
    if (names_option(message, {"scale", "key_rows"})) throw UsageError(message);
    throw UsageError(with_file_name(message, in_dir, kScanFiles));
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

inline int scan_command(int argc, char** argv) {
  const Args args(
      argc, argv, 2,
      {"--base", "--in", "--out", "--scale", "--mode", "--threads", "--repeat", "--key-rows"},
      {"--qk-l2norm", "--no-qk-l2norm", "--allow-neg-eigval"});
  const std::string base = args.choice("--base", {"gla", "gdn"}, "");
  return base == "gla" ? run_scan<sse::GlaRule>(args) : run_scan<sse::GdnRule>(args);
}

}  // namespace sse_run
