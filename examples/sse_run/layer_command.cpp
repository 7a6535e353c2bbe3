// `sse-run layer`: one SSE-GLA or SSE-GDN layer (DESIGN.md sections 4 and 6; the usage text
// below). D, N, K = rows(q_proj)/H and V = rows(v_proj)/HV come from the weight shapes.

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
    "layer --base {gla|gdn} --weights DIR --heads H --in x.npy --out DIR [--v-heads HV]\n"
    "     [--writers KW] [--readers KR] [--norm-eps E] [--allow-neg-eigval]\n"
    "     [--no-output-gate] [--short-conv] [--path {auto|masked|sparse}]\n"
    "     [--mode {auto|chunk|recurrent}] [--threads N] [--repeat R]\n"
    "  one SSE-GLA or SSE-GDN layer: DIR holds a <state_dict key>.npy per parameter;\n"
    "  x [B,T,D] -> y [B,T,D]; sizes from the weight shapes; --norm-eps defaults to 1e-5\n";

template <class Rule>
int run_layer(const Args& args) {
  const std::string weights_dir = args.required("--weights");
  const std::string x_path = args.required("--in");
  const std::string out_dir = args.required("--out");
  const long threads = threads_option(args);
  const long repeat = repeat_option(args);

  sse::SseLayerConfig config;
  config.heads = args.integer("--heads", 0, 1, 1 << 20);
  if (!args.has("--heads")) throw UsageError("--heads is required");
  config.v_heads = args.integer("--v-heads", config.heads, 1, 1 << 20);
  config.writers = args.integer("--writers", 1, 1, 1 << 20);
  config.readers = args.integer("--readers", 1, 1, 1 << 20);
  double eps = 1e-5;
  if (args.real("--norm-eps", eps) && !(eps > 0)) throw UsageError("--norm-eps: must be positive");
  config.norm_eps = eps;
  config.allow_neg_eigval = args.has("--allow-neg-eigval");
  config.use_output_gate = !args.has("--no-output-gate");
  config.use_short_conv = args.has("--short-conv");
  config.path = path_option(args);
  config.mode = mode_option(args);

  sse::Weights weights;
  try {
    weights = sse::Weights::from_npy_directory(weights_dir);
  } catch (const sse::invalid_argument& e) {
    throw UsageError(e.what());
  }
  weights.set_origin("");  // messages name the file instead
  // The sizes, from the weight shapes.
  if (const sse::Status s = sse::infer_sse_layer_sizes(weights, config); !s) {
    const std::string& subject = s.subject();
    if (subject == "writers" || subject == "readers") {
      throw UsageError("--writers/--readers: " + s.detail());
    }
    if (subject == "path" || subject == "v_heads")
      throw UsageError(flag_of(subject) + ": " + s.detail());
    throw UsageError(npy_path(weights_dir, subject) + ": " + s.detail());
  }
  if (const sse::Status s = sse::check_parameters(weights, sse::SseLayer<Rule>::parameters(config));
      !s) {
    // check_parameters' errors are about a key: name its file instead.
    throw UsageError(npy_path(weights_dir, s.subject()) + ": " + s.detail());
  }
  const sse::SseLayer<Rule> layer(config, weights);

  const FloatArray x = load_float_file(x_path, 3, "[B,T,D]");
  if (x.shape[2] != config.hidden) {
    throw UsageError(x_path + ": expected shape [B,T,D] with D = " + std::to_string(config.hidden) +
                     " (the columns of " + npy_path(weights_dir, "q_proj.weight") + "), got " +
                     sse::format_shape(x.shape));
  }
  std::vector<float> y(x.data.size());
  sse::ThreadPool pool(static_cast<std::size_t>(threads));
  const sse::TensorView<const float, 3> x_view = view_of<3>(x);
  const sse::TensorView<float, 3> y_view{y.data(), x_view.extents()};
  run_timed(repeat, [&] { layer.forward(x_view, y_view, nullptr, pool); });

  OutputSet outputs(out_dir);
  outputs.add("y", y, x.shape);
  outputs.commit();
  return 0;
}

int layer_command(int argc, char** argv) {
  const Args args(argc, argv, 2,
                  names({{"--base", "--weights", "--heads", "--in", "--out", "--v-heads",
                          "--writers", "--readers", "--norm-eps", "--path", "--mode"},
                         kRunOptions}),
                  names({{"--allow-neg-eigval", "--no-output-gate", "--short-conv"}}));
  const std::string base = args.choice("--base", {"gla", "gdn"}, "");
  return base == "gla" ? run_layer<sse::GlaRule>(args) : run_layer<sse::GdnRule>(args);
}

}  // namespace

const Command kLayerCommand = {"layer", kUsage, &layer_command};

}  // namespace sse_run
