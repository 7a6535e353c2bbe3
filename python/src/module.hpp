#pragma once

// The parts of the Python module `sse`, each in its own translation unit (they compile in
// parallel): the operator, the scan and their oracles (ops.cpp), layers and models
// (models.cpp).

#include <pybind11/pybind11.h>

namespace sse_python {

void bind_ops(pybind11::module_& m);
void bind_models(pybind11::module_& m);

}  // namespace sse_python
