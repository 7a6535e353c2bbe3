// sse.Model (an SSE-H or SpikingBrain2.0 model folder, as `sse-run generate`) and sse.Layer (one
// SSE-GLA or SSE-GDN layer from a folder of .npy weights, as `sse-run layer`), with their
// decode caches.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "arrays.hpp"
#include "executors.hpp"
#include "module.hpp"
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sse/sse.hpp>

namespace sse_python {
namespace {

using namespace pybind11::literals;

/// A loaded model; its caches keep it alive and are checked to belong to it.
struct Model {
  std::shared_ptr<const sse::HybridModel> model;
};

struct ModelCache {
  std::shared_ptr<const sse::HybridModel> model;
  sse::HybridModel::Cache cache;
};

/// Token ids [T] or [B,T] (int32/int64 array or list) as int64 [B,T]; `rank` is 1 or 2.
struct TokenIds {
  std::vector<std::int64_t> ids;
  sse::index_t B = 1, T = 0;
  int rank = 1;
};

TokenIds token_ids(const py::handle& obj) {
  TokenIds t;
  std::vector<py::ssize_t> shape;
  t.ids = int_values(obj, "ids", 0, &shape, /*lists=*/true);
  t.rank = static_cast<int>(shape.size());
  t.B = t.rank == 2 ? shape[0] : 1;
  t.T = shape.back();
  if (t.T < 1 || t.B < 1)
    raise_value("ids: expected at least one token, got shape " +
                sse::format_shape(std::vector<sse::index_t>(shape.begin(), shape.end())));
  return t;
}

/// logits of `ids` through `cache` (or a fresh one): [T,vocab] for ids [T], [B,T,vocab] for
/// [B,T]; with last_only, each sequence's last position: [vocab] or [B,vocab].
FloatArray model_logits(const Model& m, const py::handle& ids, ModelCache* cache, bool last_only,
                        const std::optional<long>& threads) {
  const TokenIds t = token_ids(ids);
  const sse::index_t vocab = m.model->config().vocab_size;
  if (cache != nullptr && cache->model != m.model) raise_value("cache: made by another model");
  const sse::index_t rows = last_only ? 1 : t.T;
  std::vector<py::ssize_t> shape;
  if (t.rank == 2) shape.push_back(t.B);
  if (!last_only) shape.push_back(t.T);
  shape.push_back(vocab);
  FloatArray logits(shape);
  PoolLease lease(threads);
  {
    const py::gil_scoped_release release;
    const std::size_t bytes = m.model->workspace_size(t.B, t.T, lease.pool());
    m.model->forward({t.ids.data(), {t.B, t.T}}, {logits.mutable_data(), {t.B, rows, vocab}},
                     cache != nullptr ? &cache->cache : nullptr, lease.pool(),
                     thread_workspace(bytes));
  }
  return logits;
}

/// One SSE layer of either rule.
struct Layer {
  std::variant<sse::SseLayer<sse::GlaRule>, sse::SseLayer<sse::GdnRule>> layer;
  std::string base;
};

struct LayerCache {
  std::variant<sse::SseLayer<sse::GlaRule>::Cache, sse::SseLayer<sse::GdnRule>::Cache> cache;
  const Layer* owner;
};

Layer make_layer(const std::string& folder, const std::string& base, sse::index_t heads,
                 std::optional<sse::index_t> v_heads, sse::index_t writers, sse::index_t readers,
                 double norm_eps, bool allow_neg_eigval, bool output_gate, bool short_conv,
                 const std::string& path, const std::string& mode) {
  sse::SseLayerConfig config;
  config.heads = heads;
  config.v_heads = v_heads.value_or(0);
  config.writers = writers;
  config.readers = readers;
  config.norm_eps = norm_eps;
  config.allow_neg_eigval = allow_neg_eigval;
  config.use_output_gate = output_gate;
  config.use_short_conv = short_conv;
  config.path = path_of(path);
  config.mode = mode_of(mode);
  if (!(norm_eps > 0)) raise_value("norm_eps: must be positive");
  sse::Weights weights = sse::Weights::from_npy_directory(folder);
  raise_if_error(sse::infer_sse_layer_sizes(weights, config));
  return with_rule(base, [&](auto rule) {
    using Rule = decltype(rule);
    raise_if_error(sse::check_parameters(weights, sse::SseLayer<Rule>::parameters(config)));
    return Layer{sse::SseLayer<Rule>(config, std::move(weights)), base};
  });
}

FloatArray layer_forward(const Layer& self, const py::handle& x_obj, LayerCache* cache,
                         const std::optional<long>& threads) {
  const FloatArray x = float_array(x_obj, "x");
  const auto x_view = float_view<3>(x, "x", "[B,T,D]");
  if (cache != nullptr && cache->owner != &self) raise_value("cache: made by another layer");
  FloatArray y = new_float_array<3>(x_view.extents());
  const sse::TensorView<float, 3> y_view{y.mutable_data(), x_view.extents()};
  PoolLease lease(threads);
  std::visit(
      [&](const auto& layer) {
        using Cache = typename std::decay_t<decltype(layer)>::Cache;
        Cache* state = cache != nullptr ? &std::get<Cache>(cache->cache) : nullptr;
        const py::gil_scoped_release release;
        const std::size_t bytes =
            layer.workspace_size(x_view.extent(0), x_view.extent(1), lease.pool());
        layer.forward(x_view, y_view, state, lease.pool(), thread_workspace(bytes));
      },
      self.layer);
  return y;
}

const sse::SseLayerConfig& config_of(const Layer& self) {
  return std::visit([](const auto& layer) -> const sse::SseLayerConfig& { return layer.config(); },
                    self.layer);
}

}  // namespace

void bind_models(py::module_& m) {
  py::class_<ModelCache>(m, "ModelCache",
                         "The decode state of a model's sequences (Model.make_cache).")
      .def_property_readonly("batch", [](const ModelCache& c) { return c.cache.batch; })
      .def_property_readonly(
          "seen", [](const ModelCache& c) { return c.cache.seen; },
          "Tokens each sequence has read.");

  py::class_<Model>(m, "Model", R"doc(
An SSE-H or SpikingBrain2.0 (sse_swa_moba) model folder, as `sse-run generate` reads it:
config.json and model.safetensors, or model.safetensors.index.json and its shards (F32, BF16
or F16 matrices, kept in their precision).)doc")
      .def(py::init([](const std::string& folder) {
             return Model{std::make_shared<const sse::HybridModel>(sse::load_hybrid_model(folder))};
           }),
           "folder"_a)
      .def_property_readonly("vocab_size",
                             [](const Model& self) { return self.model->config().vocab_size; })
      .def_property_readonly("hidden_size",
                             [](const Model& self) { return self.model->config().hidden_size; })
      .def_property_readonly(
          "num_hidden_layers",
          [](const Model& self) { return self.model->config().num_hidden_layers; })
      .def(
          "make_cache",
          [](const Model& self, sse::index_t batch) {
            if (batch < 1) raise_value("batch: expected >= 1, got " + std::to_string(batch));
            return ModelCache{self.model, self.model->make_cache(batch)};
          },
          "A fresh decode cache for `batch` sequences.", "batch"_a = 1)
      .def(
          "logits",
          [](const Model& self, const py::handle& ids, ModelCache* cache, bool last_only,
             std::optional<long> threads) {
            return model_logits(self, ids, cache, last_only, threads);
          },
          R"doc(
The logits of token ids [T] or [B,T] (int32/int64 array or list): [T,vocab] or [B,T,vocab]
float32, or of each sequence's last position only with last_only=True ([vocab] or [B,vocab]).
With a cache, a prefill or decode step that continues it and updates it.)doc",
          "ids"_a, "cache"_a = py::none(), py::kw_only(), "last_only"_a = false,
          "threads"_a = py::none())
      .def(
          "generate",
          [](const Model& self, const py::handle& ids, sse::index_t max_new,
             std::optional<long> threads) {
            const TokenIds t = token_ids(ids);
            if (t.rank != 1) raise_value("ids: expected one prompt [T], got a batch");
            if (max_new < 0) raise_value("max_new: expected >= 0, got " + std::to_string(max_new));
            PoolLease lease(threads);
            const py::gil_scoped_release release;
            return sse::generate_greedy(*self.model, t.ids, max_new, lease.pool());
          },
          "Greedy decoding (argmax, lowest id on ties): the max_new ids after the prompt.", "ids"_a,
          "max_new"_a, py::kw_only(), "threads"_a = py::none());

  py::class_<LayerCache>(m, "LayerCache", "The decode state of a layer's sequences.")
      .def_property_readonly(
          "state",
          [](const LayerCache& c) {
            return std::visit(
                [](const auto& cache) {
                  return py::array_t<float>(static_cast<py::ssize_t>(cache.state.size()),
                                            cache.state.data());
                },
                c.cache);
          },
          "A copy of the recurrent states, flat ([B,1+N,HV,K,V] in C order).");

  py::class_<Layer>(m, "Layer", R"doc(
One SSE-GLA or SSE-GDN layer (DESIGN.md section 4), as `sse-run layer`: `folder` holds a
<state_dict key>.npy per parameter (upstream's keys); D, K, V and N come from the weight shapes.
layer(x [B,T,D] float32) -> y [B,T,D].)doc")
      .def(py::init(&make_layer), "folder"_a, py::kw_only(), "base"_a, "heads"_a,
           "v_heads"_a = py::none(), "writers"_a = 1, "readers"_a = 1, "norm_eps"_a = 1e-5,
           "allow_neg_eigval"_a = false, "output_gate"_a = true, "short_conv"_a = false,
           "path"_a = "auto", "mode"_a = "auto")
      .def_property_readonly("base", [](const Layer& self) { return self.base; })
      .def_property_readonly("hidden", [](const Layer& self) { return config_of(self).hidden; })
      .def_property_readonly("heads", [](const Layer& self) { return config_of(self).heads; })
      .def_property_readonly("v_heads",
                             [](const Layer& self) { return config_of(self).value_heads(); })
      .def_property_readonly("head_dim", [](const Layer& self) { return config_of(self).head_dim; })
      .def_property_readonly("value_dim",
                             [](const Layer& self) { return config_of(self).value_dim; })
      .def_property_readonly("partitions",
                             [](const Layer& self) { return config_of(self).partitions; })
      .def(
          "make_cache",
          [](const Layer& self, sse::index_t batch) {
            if (batch < 1) raise_value("batch: expected >= 1, got " + std::to_string(batch));
            return std::visit(
                [&](const auto& layer) {
                  return LayerCache{layer.make_cache(batch), &self};
                },
                self.layer);
          },
          "A zero decode cache for `batch` sequences.", "batch"_a = 1, py::keep_alive<0, 1>())
      .def(
          "__call__",
          [](const Layer& self, const py::handle& x, LayerCache* cache,
             std::optional<long> threads) { return layer_forward(self, x, cache, threads); },
          "y [B,T,D] of x [B,T,D]; with a cache, continuing it (and updating it).", "x"_a,
          "cache"_a = py::none(), py::kw_only(), "threads"_a = py::none());
}

}  // namespace sse_python
