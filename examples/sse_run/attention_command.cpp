// `sse-run attention`: the SSE operator on .npy files (DESIGN.md sections 3 and 6; the usage
// text below). --key-rows R (GLA, beyond DESIGN.md section 6): the row-level sparse update of
// section 2b, k1 and k2 being key logits. --bf16 (beyond section 6): q, k, v, g and beta are
// rounded to bfloat16 and the operator runs its bf16-input path (state, o and every sum stay
// float32); the files stay float32, as .npy has no bfloat16 type.

#include <cstdint>
#include <string>
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
    "attention --base {gla|gdn} --in DIR --out DIR [--writers KW] [--readers KR]\n"
    "     [--no-emulq] [--no-emulk] [--scale S] [--qk-l2norm | --no-qk-l2norm]\n"
    "     [--allow-neg-eigval] [--path {auto|masked|sparse}] [--mode {auto|chunk|recurrent}]\n"
    "     [--key-rows R] [--bf16] [--threads N] [--repeat R]\n"
    "  the SSE operator: q1, q2, k1, k2 [B,T,H,K], v [B,T,H,V], eta [B,T,N], g1, g2, and\n"
    "  beta1, beta2 (gdn)[, h0 [B or S,1+N,H,K,V]][, cu_seqlens [S+1]] -> o [B,T,H,V],\n"
    "  ht [B or S,1+N,H,K,V]; --key-rows R (gla): k1, k2 hold key logits; --bf16: q, k, v,\n"
    "  g and beta rounded to bfloat16, run through the bf16-input path\n";

/// The input files of `attention`, named in error messages.
const std::vector<std::string> kAttentionFiles = {"q1", "q2", "k1",    "k2",    "v",  "eta",
                                                  "g1", "g2", "beta1", "beta2", "h0", "cu_seqlens"};

/// A library error named by the flag or file it is about.
std::string attention_message(const sse::Status& status, const std::string& dir) {
  const std::string n_source = " (N is the last dimension of " + npy_path(dir, "eta") + ")";
  if (status.subject() == "writers" || status.subject() == "readers") {
    return tool_message(status, dir, kAttentionFiles, {"writers", "readers"}, n_source);
  }
  return tool_message(status, dir, kAttentionFiles, {"path", "scale", "key_rows"});
}

template <class Rule>
int run_attention(const Args& args) {
  const auto [in_dir, out_dir, threads, repeat] = run_settings(args);

  sse::AttentionOptions options;
  options.writers = args.integer("--writers", 1, 1, 1 << 20);
  options.readers = args.integer("--readers", 1, 1, 1 << 20);
  options.emulq = !args.has("--no-emulq");
  options.emulk = !args.has("--no-emulk");
  options.path = path_option(args);
  read_recurrence_options(args, options);

  const FloatArray q1 = load_float(in_dir, "q1", 4, "[B,T,H,K]");
  const FloatArray q2 = load_float(in_dir, "q2", 4, "[B,T,H,K]");
  const FloatArray k1 = load_float(in_dir, "k1", 4, "[B,T,H,K]");
  const FloatArray k2 = load_float(in_dir, "k2", 4, "[B,T,H,K]");
  const FloatArray v = load_float(in_dir, "v", 4, "[B,T,H,V]");
  const FloatArray eta = load_float(in_dir, "eta", 3, "[B,T,N]");
  const std::size_t gate_rank = sse::gate_rank_v<Rule>;
  const char* gate_shape = Rule::kPerKeyDecay ? "[B,T,H,K]" : "[B,T,H]";
  const FloatArray g1 = load_float(in_dir, "g1", gate_rank, gate_shape);
  const FloatArray g2 = load_float(in_dir, "g2", gate_rank, gate_shape);
  const FloatArray beta1 =
      Rule::kHasBeta ? load_float(in_dir, "beta1", 3, "[B,T,H]") : FloatArray{};
  const FloatArray beta2 =
      Rule::kHasBeta ? load_float(in_dir, "beta2", 3, "[B,T,H]") : FloatArray{};
  const FloatArray h0 = load_float(in_dir, "h0", 5, "[B or S,1+N,H,K,V]", /*optional=*/true);
  const std::vector<std::int64_t> cu_seqlens = load_cu_seqlens(in_dir);

  sse::SseInputs<Rule> in;
  in.q1 = view_of<4>(q1);
  in.q2 = view_of<4>(q2);
  in.k1 = view_of<4>(k1);
  in.k2 = view_of<4>(k2);
  in.v = view_of<4>(v);
  in.eta = view_of<3>(eta);
  in.g1 = view_of<sse::gate_rank_v<Rule>>(g1);
  in.g2 = view_of<sse::gate_rank_v<Rule>>(g2);
  in.beta1 = view_of<3>(beta1);
  in.beta2 = view_of<3>(beta2);
  in.h0 = view_of<5>(h0);
  if (!cu_seqlens.empty()) {
    in.cu_seqlens = {cu_seqlens.data(), {static_cast<sse::index_t>(cu_seqlens.size())}};
  }

  const sse::SseDims d = sse::sse_dims(in);
  const sse::index_t states = std::max<sse::index_t>(d.S, 0);
  std::vector<float> o(static_cast<std::size_t>(d.B * d.T * d.H * d.V));
  std::vector<float> ht(static_cast<std::size_t>(states * (1 + d.N) * d.H * d.K * d.V));
  sse::SseOutputs<float> out;
  out.o = {o.data(), {d.B, d.T, d.H, d.V}};
  out.ht = {ht.data(), {states, 1 + d.N, d.H, d.K, d.V}};

  if (const sse::Status status = sse::validate_sse_attention(in, out, options); !status) {
    throw UsageError(attention_message(status, in_dir));
  }
  sse::ThreadPool pool(static_cast<std::size_t>(threads));
  // ht is a separate buffer from h0, so every repetition starts from the same state.
  const long repetitions = repeat;  // a lambda cannot capture a structured binding (C++17)
  auto run = [&](const auto& inputs) {
    std::vector<std::byte> workspace(
        sse::sse_attention_workspace_size<Rule>(inputs, out, options, pool));
    run_timed(repetitions, [&] {
      sse::sse_attention<Rule>(inputs, out, options, pool,
                               sse::Workspace(workspace.data(), workspace.size()));
    });
  };
  if (args.has("--bf16")) {
    const sse::Bf16SseInputs<Rule> bf16(in);  // rounding outside the timing
    run(bf16.inputs());
  } else {
    run(in);
  }

  OutputSet outputs(out_dir);
  outputs.add("o", o, {d.B, d.T, d.H, d.V});
  outputs.add("ht", ht, {states, 1 + d.N, d.H, d.K, d.V});
  outputs.commit();
  return 0;
}

int attention_command(int argc, char** argv) {
  const Args args(argc, argv, 2,
                  names({{"--base", "--in", "--out", "--writers", "--readers", "--path"},
                         kRecurrenceOptions,
                         kRunOptions}),
                  names({{"--no-emulq", "--no-emulk", "--bf16"}, kRecurrenceFlags}));
  const std::string base = args.choice("--base", {"gla", "gdn"}, "");
  return base == "gla" ? run_attention<sse::GlaRule>(args) : run_attention<sse::GdnRule>(args);
}

}  // namespace

const Command kAttentionCommand = {"attention", kUsage, &attention_command};

}  // namespace sse_run
