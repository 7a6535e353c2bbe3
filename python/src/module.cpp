// The Python module `sse`: the library on NumPy arrays, in-process (README, "Python").

#include "module.hpp"

#include <string>

#include <pybind11/pybind11.h>
#include <sse/version.hpp>

PYBIND11_MODULE(sse, m) {
  m.doc() =
      "Sparse State Expansion linear attention on the CPU: the operator, the scan, layers and "
      "whole SSE-H / SpikingBrain2.0 models on NumPy float32 arrays, with float64 oracles in "
      "sse.reference.";
  m.attr("__version__") = std::to_string(SSE_VERSION_MAJOR) + "." +
                          std::to_string(SSE_VERSION_MINOR) + "." +
                          std::to_string(SSE_VERSION_PATCH);
  sse_python::bind_ops(m);
  sse_python::bind_models(m);
}
