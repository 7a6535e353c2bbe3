// sse.attention, sse.scan and their float64 oracles sse.reference.attention and
// sse.reference.scan: the semantics and defaults of `sse-run attention` and `sse-run scan`
// (DESIGN.md sections 3 and 6) on NumPy arrays.

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "executors.hpp"
#include "module.hpp"
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sse/reference/naive_rules.hpp>
#include <sse/reference/naive_sse.hpp>
#include <sse/sse.hpp>

namespace sse_python {
namespace {

using namespace pybind11::literals;

/// The out_o and out_ht arguments: the caller's arrays to write, or None for fresh ones.
struct GivenOutputs {
  py::object o, ht;
};

/// The tensor arguments of sse.attention, as Python objects.
struct AttentionTensors {
  py::object q1, k1, q2, k2, v, g1, g2, eta, beta1, beta2, h0, cu_seqlens, state_slots;
};

/// The keyword arguments of sse.attention and sse.reference.attention.
struct AttentionSettings {
  sse::AttentionOptions options;
  bool return_routing = false;
};

/// The caller's arrays behind a call's input views, kept referenced while it runs, and its
/// integer arrays, copied to int64.
struct HeldArguments {
  std::vector<FloatArray> arrays;
  std::deque<std::vector<std::int64_t>> integers;  // a deque: views into earlier ones stay valid

  template <std::size_t R>
  sse::TensorView<const float, R> view(const py::object& obj, const char* name, const char* shape) {
    arrays.push_back(float_array(obj, name));
    return float_view<R>(arrays.back(), name, shape);
  }
  /// An optional int32/int64 vector argument (absent for None).
  sse::TensorView<const std::int64_t, 1> integer_view(const py::object& obj, const char* name) {
    if (obj.is_none()) return {};
    integers.push_back(int_values(obj, name, 1));
    return int_view(integers.back(), true);
  }
};

/// The inputs of an attention call, as views of the caller's arrays.
template <class Rule>
struct AttentionInputs : HeldArguments {
  sse::SseInputs<Rule> in;

  explicit AttentionInputs(const AttentionTensors& t) {
    in.q1 = view<4>(t.q1, "q1", "[B,T,H,K]");
    in.k1 = view<4>(t.k1, "k1", "[B,T,H,K]");
    in.q2 = view<4>(t.q2, "q2", "[B,T,H,K]");
    in.k2 = view<4>(t.k2, "k2", "[B,T,H,K]");
    in.v = view<4>(t.v, "v", "[B,T,H,V]");
    constexpr std::size_t gate_rank = sse::gate_rank_v<Rule>;
    const char* gate_shape = Rule::kPerKeyDecay ? "[B,T,H,K]" : "[B,T,H]";
    in.g1 = view<gate_rank>(t.g1, "g1", gate_shape);
    in.g2 = view<gate_rank>(t.g2, "g2", gate_shape);
    in.eta = view<3>(t.eta, "eta", "[B,T,N]");
    for (const auto& [beta, name] : {std::pair{&t.beta1, "beta1"}, std::pair{&t.beta2, "beta2"}}) {
      if (Rule::kHasBeta && beta->is_none())
        raise_value(std::string(name) + ": required by base='gdn'");
      if (!Rule::kHasBeta && !beta->is_none())
        raise_value(std::string(name) + ": base='gla' has no beta");
    }
    if (Rule::kHasBeta) {
      in.beta1 = view<3>(t.beta1, "beta1", "[B,T,H]");
      in.beta2 = view<3>(t.beta2, "beta2", "[B,T,H]");
    }
    if (!t.h0.is_none()) in.h0 = view<5>(t.h0, "h0", "[S or P,1+N,H,K,V]");
    in.cu_seqlens = integer_view(t.cu_seqlens, "cu_seqlens");
    in.state_slots = integer_view(t.state_slots, "state_slots");
  }
};

/// (o, ht[, routing]) with routing = {"p", "writer_ids", "reader_ids"}.
py::tuple attention_result(py::object o, py::object ht, bool return_routing, py::object p,
                           py::object writers, py::object readers) {
  if (!return_routing) return py::make_tuple(o, ht);
  py::dict routing("p"_a = p, "writer_ids"_a = writers, "reader_ids"_a = readers);
  return py::make_tuple(o, ht, routing);
}

template <class Rule>
py::tuple attention(const AttentionTensors& tensors, const AttentionSettings& settings,
                    const GivenOutputs& given, bool bf16, const std::optional<long>& threads) {
  AttentionInputs<Rule> inputs(tensors);
  const sse::SseInputs<Rule>& in = inputs.in;
  const sse::AttentionOptions& options = settings.options;
  const sse::SseDims d = sse::sse_dims(in);
  {  // the inputs first, before any output is allocated
    sse::SseOutputs<float> shapes;
    shapes.o = shape_only<4>({d.B, d.T, d.H, d.V});
    raise_if_error(sse::validate_sse_attention(in, shapes, options));
  }

  sse::SseOutputs<float> out;
  const FloatArray o = output_array<4>(given.o, "out_o", {d.B, d.T, d.H, d.V});
  out.o = writable_view<4>(o, "out_o", "[B,T,H,V]");
  FloatArray ht;
  if (given.ht.is_none() && in.state_slots.present()) {
    // A pool: the slots the call does not touch keep h0's states.
    if (!in.h0.present()) raise_value("out_ht: state_slots without h0 needs the pool as out_ht");
    ht = py::reinterpret_borrow<FloatArray>(py::array(tensors.h0).attr("copy")());
  } else {
    ht = output_array<5>(given.ht, "out_ht", {d.S, 1 + d.N, d.H, d.K, d.V});
  }
  out.ht = writable_view<5>(ht, "out_ht", "[S or P,1+N,H,K,V]");
  py::object p = py::none(), writers = py::none(), readers = py::none();
  if (settings.return_routing) {
    FloatArray p_array = new_float_array<3>({d.B, d.T, d.N});
    py::array_t<std::int32_t> w({d.B, d.T, options.writers}), r({d.B, d.T, options.readers});
    out.routing.p = {p_array.mutable_data(), {d.B, d.T, d.N}};
    out.routing.writer_ids = {w.mutable_data(), {d.B, d.T, options.writers}};
    out.routing.reader_ids = {r.mutable_data(), {d.B, d.T, options.readers}};
    p = p_array, writers = w, readers = r;
  }
  raise_if_output_error(sse::validate_sse_attention(in, out, options));

  PoolLease lease(threads);
  {
    const py::gil_scoped_release release;
    auto run = [&](const auto& operands) {
      const std::size_t bytes =
          sse::sse_attention_workspace_size<Rule>(operands, out, options, lease.pool());
      sse::sse_attention<Rule>(operands, out, options, lease.pool(), thread_workspace(bytes));
    };
    if (bf16) {
      const sse::Bf16SseInputs<Rule> narrowed(in);
      run(narrowed.inputs());
    } else {
      run(in);
    }
  }
  return attention_result(o, ht, settings.return_routing, p, writers, readers);
}

template <class Rule>
py::tuple reference_attention(const AttentionTensors& tensors, const AttentionSettings& settings) {
  AttentionInputs<Rule> inputs(tensors);
  const sse::SseDims d = sse::sse_dims(inputs.in);
  // The oracle assumes valid input: the operator's checks, against outputs of its shapes.
  sse::SseOutputs<float> shapes;
  shapes.o = shape_only<4>({d.B, d.T, d.H, d.V});
  raise_if_error(sse::validate_sse_attention(inputs.in, shapes, settings.options));
  sse::reference::SseResult r;
  {
    const py::gil_scoped_release release;
    r = sse::reference::sse_attention<Rule>(inputs.in, settings.options);
  }
  const sse::index_t KW = settings.options.writers, KR = settings.options.readers;
  auto array_of = [](auto& values, std::vector<py::ssize_t> shape) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    return py::array_t<T>(shape, values.data());
  };
  return attention_result(array_of(r.o, {d.B, d.T, d.H, d.V}),
                          array_of(r.ht, {d.S, 1 + d.N, d.H, d.K, d.V}), settings.return_routing,
                          array_of(r.p, {d.B, d.T, d.N}), array_of(r.writer_ids, {d.B, d.T, KW}),
                          array_of(r.reader_ids, {d.B, d.T, KR}));
}

/// The tensor arguments of sse.scan.
struct ScanTensors {
  py::object q, k, v, g, beta, h0, cu_seqlens;
};

template <class Rule>
struct ScanArguments : HeldArguments {
  sse::ScanInputs<Rule> in;

  explicit ScanArguments(const ScanTensors& t) {
    in.q = view<4>(t.q, "q", "[B,T,H,K]");
    in.k = view<4>(t.k, "k", "[B,T,H,K]");
    in.v = view<4>(t.v, "v", "[B,T,H,V]");
    in.g = view<sse::gate_rank_v<Rule>>(t.g, "g", Rule::kPerKeyDecay ? "[B,T,H,K]" : "[B,T,H]");
    if (Rule::kHasBeta && t.beta.is_none()) raise_value("beta: required by base='gdn'");
    if (!Rule::kHasBeta && !t.beta.is_none()) raise_value("beta: base='gla' has no beta");
    if (Rule::kHasBeta) in.beta = view<3>(t.beta, "beta", "[B,T,H]");
    if (!t.h0.is_none()) in.h0 = view<4>(t.h0, "h0", "[S,H,K,V]");
    in.cu_seqlens = integer_view(t.cu_seqlens, "cu_seqlens");
  }
};

template <class Rule>
py::tuple scan(const ScanTensors& tensors, const sse::ScanOptions& options,
               const GivenOutputs& given, const std::optional<long>& threads) {
  ScanArguments<Rule> args(tensors);
  const sse::ScanInputs<Rule>& in = args.in;
  const sse::ScanDims d = sse::scan_dims(in);
  sse::ScanOutputs<float> shapes;
  shapes.o = shape_only<4>({d.B, d.T, d.H, d.V});
  raise_if_error(sse::validate_scan(in, shapes, options));  // before allocating outputs

  sse::ScanOutputs<float> out;
  const FloatArray o = output_array<4>(given.o, "out_o", {d.B, d.T, d.H, d.V});
  out.o = writable_view<4>(o, "out_o", "[B,T,H,V]");
  const FloatArray ht = output_array<4>(given.ht, "out_ht", {d.S, d.H, d.K, d.V});
  out.ht = writable_view<4>(ht, "out_ht", "[S,H,K,V]");
  raise_if_output_error(sse::validate_scan(in, out, options));

  PoolLease lease(threads);
  {
    const py::gil_scoped_release release;
    const std::size_t bytes = sse::scan_workspace_size<Rule>(in, out, lease.pool());
    sse::scan<Rule>(in, out, options, lease.pool(), thread_workspace(bytes));
  }
  return py::make_tuple(o, ht);
}

template <class Rule>
py::tuple reference_scan(const ScanTensors& tensors, const sse::ScanOptions& options) {
  ScanArguments<Rule> args(tensors);
  const sse::ScanDims d = sse::scan_dims(args.in);
  sse::ScanOutputs<float> shapes;
  shapes.o = shape_only<4>({d.B, d.T, d.H, d.V});
  raise_if_error(sse::validate_scan(args.in, shapes, options));
  sse::reference::ScanResult r;
  {
    const py::gil_scoped_release release;
    r = sse::reference::scan<Rule>(args.in, options);
  }
  return py::make_tuple(py::array_t<double>({d.B, d.T, d.H, d.V}, r.o.data()),
                        py::array_t<double>({d.S, d.H, d.K, d.V}, r.ht.data()));
}

AttentionSettings attention_settings(sse::index_t writers, sse::index_t readers, bool emulq,
                                     bool emulk, std::optional<double> scale,
                                     std::optional<bool> qk_l2norm, bool allow_neg_eigval,
                                     const std::string& path, const std::string& mode,
                                     std::optional<sse::index_t> key_rows, bool return_routing) {
  AttentionSettings s;
  s.options.writers = writers;
  s.options.readers = readers;
  s.options.emulq = emulq;
  s.options.emulk = emulk;
  s.options.scale = scale;
  s.options.qk_l2norm = qk_l2norm;
  s.options.allow_neg_eigval = allow_neg_eigval;
  s.options.path = path_of(path);
  s.options.mode = mode_of(mode);
  s.options.key_rows = key_rows.value_or(0);
  s.return_routing = return_routing;
  return s;
}

sse::ScanOptions scan_options(std::optional<double> scale, std::optional<bool> qk_l2norm,
                              bool allow_neg_eigval, const std::string& mode,
                              std::optional<sse::index_t> key_rows) {
  sse::ScanOptions options;
  options.scale = scale;
  options.qk_l2norm = qk_l2norm;
  options.allow_neg_eigval = allow_neg_eigval;
  options.mode = mode_of(mode);
  options.key_rows = key_rows.value_or(0);
  return options;
}

constexpr const char* kAttentionDoc = R"doc(
The SSE operator (DESIGN.md section 3), as `sse-run attention`.

q1, k1, q2, k2 [B,T,H,K]; v [B,T,H,V]; g1, g2 [B,T,H,K] (gla) or [B,T,H] (gdn); eta [B,T,N]
router logits; beta1, beta2 [B,T,H] (gdn); h0 [S,1+N,H,K,V] initial states (or a pool
[P,1+N,H,K,V] with state_slots [S]); cu_seqlens [S+1] packs S sequences into B = 1.
Float tensors must be C-contiguous float32 (used in place, never converted). Returns
(o [B,T,H,V], ht[, routing]); o is out_o and ht is out_ht when given (ht may be h0
itself: updated in place). routing = {"p": [B,T,N], "writer_ids": [B,T,writers],
"reader_ids": [B,T,readers]}.
bf16=True rounds q, k, v, g and beta to bfloat16 and runs the bf16-input path. threads=None
uses every core; the result does not depend on it. Bad input raises ValueError.
)doc";

constexpr const char* kScanDoc = R"doc(
One GLA or Gated DeltaNet recurrence (DESIGN.md section 1), as `sse-run scan`.

q, k [B,T,H,K]; v [B,T,H,V]; g [B,T,H,K] (gla) or [B,T,H] (gdn); beta [B,T,H] (gdn);
h0 [S,H,K,V]; cu_seqlens [S+1]. Returns (o [B,T,H,V], ht [S,H,K,V]), written into out_o
and out_ht when given; out_ht may be h0.
)doc";

}  // namespace

void bind_ops(py::module_& m) {
  py::module_ reference = m.def_submodule(
      "reference",
      "The float64 oracles, written for clarity: token by token, one loop per equation.");
  // `import sse.reference` and `from sse.reference import attention` work too.
  py::module_::import("sys").attr("modules")["sse.reference"] = reference;

  m.def(
      "attention",
      [](py::object q1, py::object k1, py::object q2, py::object k2, py::object v, py::object g1,
         py::object g2, py::object eta, const std::string& base, py::object beta1, py::object beta2,
         sse::index_t writers, sse::index_t readers, bool emulq, bool emulk,
         std::optional<double> scale, std::optional<bool> qk_l2norm, bool allow_neg_eigval,
         const std::string& path, const std::string& mode, py::object h0, py::object cu_seqlens,
         py::object state_slots, std::optional<sse::index_t> key_rows, bool bf16, py::object out_o,
         py::object out_ht, bool return_routing, std::optional<long> threads) {
        const AttentionTensors tensors{q1,  k1,    q2,    k2, v,          g1,         g2,
                                       eta, beta1, beta2, h0, cu_seqlens, state_slots};
        const AttentionSettings settings =
            attention_settings(writers, readers, emulq, emulk, scale, qk_l2norm, allow_neg_eigval,
                               path, mode, key_rows, return_routing);
        return with_rule(base, [&](auto rule) {
          return attention<decltype(rule)>(tensors, settings, {out_o, out_ht}, bf16, threads);
        });
      },
      kAttentionDoc, "q1"_a, "k1"_a, "q2"_a, "k2"_a, "v"_a, "g1"_a, "g2"_a, "eta"_a, py::kw_only(),
      "base"_a, "beta1"_a = py::none(), "beta2"_a = py::none(), "writers"_a = 1, "readers"_a = 1,
      "emulq"_a = true, "emulk"_a = true, "scale"_a = py::none(), "qk_l2norm"_a = py::none(),
      "allow_neg_eigval"_a = false, "path"_a = "auto", "mode"_a = "auto", "h0"_a = py::none(),
      "cu_seqlens"_a = py::none(), "state_slots"_a = py::none(), "key_rows"_a = py::none(),
      "bf16"_a = false, "out_o"_a = py::none(), "out_ht"_a = py::none(), "return_routing"_a = false,
      "threads"_a = py::none());

  reference.def(
      "attention",
      [](py::object q1, py::object k1, py::object q2, py::object k2, py::object v, py::object g1,
         py::object g2, py::object eta, const std::string& base, py::object beta1, py::object beta2,
         sse::index_t writers, sse::index_t readers, bool emulq, bool emulk,
         std::optional<double> scale, std::optional<bool> qk_l2norm, bool allow_neg_eigval,
         py::object h0, py::object cu_seqlens, py::object state_slots,
         std::optional<sse::index_t> key_rows, bool return_routing) {
        const AttentionTensors tensors{q1,  k1,    q2,    k2, v,          g1,         g2,
                                       eta, beta1, beta2, h0, cu_seqlens, state_slots};
        const AttentionSettings settings =
            attention_settings(writers, readers, emulq, emulk, scale, qk_l2norm, allow_neg_eigval,
                               "auto", "auto", key_rows, return_routing);
        return with_rule(base, [&](auto rule) {
          return reference_attention<decltype(rule)>(tensors, settings);
        });
      },
      "sse.attention in float64, token by token (o and ht float64; ht in sequence order).", "q1"_a,
      "k1"_a, "q2"_a, "k2"_a, "v"_a, "g1"_a, "g2"_a, "eta"_a, py::kw_only(), "base"_a,
      "beta1"_a = py::none(), "beta2"_a = py::none(), "writers"_a = 1, "readers"_a = 1,
      "emulq"_a = true, "emulk"_a = true, "scale"_a = py::none(), "qk_l2norm"_a = py::none(),
      "allow_neg_eigval"_a = false, "h0"_a = py::none(), "cu_seqlens"_a = py::none(),
      "state_slots"_a = py::none(), "key_rows"_a = py::none(), "return_routing"_a = false);

  m.def(
      "scan",
      [](py::object q, py::object k, py::object v, py::object g, const std::string& base,
         py::object beta, std::optional<double> scale, std::optional<bool> qk_l2norm,
         bool allow_neg_eigval, const std::string& mode, py::object h0, py::object cu_seqlens,
         std::optional<sse::index_t> key_rows, py::object out_o, py::object out_ht,
         std::optional<long> threads) {
        const ScanTensors tensors{q, k, v, g, beta, h0, cu_seqlens};
        const sse::ScanOptions options =
            scan_options(scale, qk_l2norm, allow_neg_eigval, mode, key_rows);
        return with_rule(base, [&](auto rule) {
          return scan<decltype(rule)>(tensors, options, {out_o, out_ht}, threads);
        });
      },
      kScanDoc, "q"_a, "k"_a, "v"_a, "g"_a, py::kw_only(), "base"_a, "beta"_a = py::none(),
      "scale"_a = py::none(), "qk_l2norm"_a = py::none(), "allow_neg_eigval"_a = false,
      "mode"_a = "auto", "h0"_a = py::none(), "cu_seqlens"_a = py::none(),
      "key_rows"_a = py::none(), "out_o"_a = py::none(), "out_ht"_a = py::none(),
      "threads"_a = py::none());

  reference.def(
      "scan",
      [](py::object q, py::object k, py::object v, py::object g, const std::string& base,
         py::object beta, std::optional<double> scale, std::optional<bool> qk_l2norm,
         bool allow_neg_eigval, py::object h0, py::object cu_seqlens,
         std::optional<sse::index_t> key_rows) {
        const ScanTensors tensors{q, k, v, g, beta, h0, cu_seqlens};
        const sse::ScanOptions options =
            scan_options(scale, qk_l2norm, allow_neg_eigval, "auto", key_rows);
        return with_rule(
            base, [&](auto rule) { return reference_scan<decltype(rule)>(tensors, options); });
      },
      "sse.scan in float64, token by token.", "q"_a, "k"_a, "v"_a, "g"_a, py::kw_only(), "base"_a,
      "beta"_a = py::none(), "scale"_a = py::none(), "qk_l2norm"_a = py::none(),
      "allow_neg_eigval"_a = false, "h0"_a = py::none(), "cu_seqlens"_a = py::none(),
      "key_rows"_a = py::none());
}

}  // namespace sse_python
