// random-model: writes a model folder with random weights for a config.json (SSE-H or
// SpikingBrain2.0), as upstream saves a checkpoint, tensor by tensor and shard by shard, so a
// model of the released widths (10 GB in bf16) is written with a few megabytes of memory. For
// benchmarks and for trying `sse-run generate` at real sizes without a download.
//
//   random-model --config FILE --out DIR [--dtype bf16|f16|f32] [--shard-mb N] [--seed S]
//
// --shard-mb 0 writes one model.safetensors; the default (5000) shards like transformers.
// Exit status 2 and one line on stderr on bad input (the files written so far are removed).

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "sse_run/cli.hpp"
#include <sse/sse.hpp>

int main(int argc, char** argv) {
  try {
    const sse_run::Args args(argc, argv, 1,
                             {"--config", "--out", "--dtype", "--shard-mb", "--seed"}, {});
    sse::RandomCheckpointOptions options;
    const std::string dtype = args.get("--dtype", "bf16");
    if (dtype == "bf16") {
      options.dtype = sse::io::TensorDType::kBF16;
    } else if (dtype == "f16") {
      options.dtype = sse::io::TensorDType::kF16;
    } else if (dtype == "f32") {
      options.dtype = sse::io::TensorDType::kF32;
    } else {
      throw sse_run::UsageError("--dtype: expected bf16, f16 or f32, got '" + dtype + "'");
    }
    options.shard_bytes = static_cast<std::uint64_t>(args.integer("--shard-mb", 5000, 0, 1 << 20))
                          << 20;
    options.seed = static_cast<std::uint64_t>(args.integer("--seed", 1, 0, 1L << 62));
    const std::string out = args.required("--out");
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t bytes = 0;
    try {
      bytes = sse::write_random_checkpoint(args.required("--config"), out, options);
    } catch (const sse::invalid_argument& e) {
      throw sse_run::UsageError(e.what());
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "random-model: %s: %.3f GB of %s weights in %.1f s\n", out.c_str(),
                 double(bytes) / 1e9, dtype.c_str(), seconds);
    return 0;
  } catch (const sse_run::UsageError& e) {
    std::fprintf(stderr, "random-model: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "random-model: %s\n", e.what());
    return 1;
  }
}
