#pragma once

/// \file
/// The umbrella header: everything public in sse.

#include "sse/config.hpp"
#include "sse/core/checks.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/sequences.hpp"
#include "sse/core/shape.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/io/npy.hpp"
#include "sse/kernels/chunked.hpp"
#include "sse/kernels/head_sequence.hpp"
#include "sse/kernels/recurrent.hpp"
#include "sse/kernels/scan.hpp"
#include "sse/kernels/scan_options.hpp"
#include "sse/kernels/schedule.hpp"
#include "sse/reference/naive_rules.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"
#include "sse/rules/rule_traits.hpp"
#include "sse/simd/reduce.hpp"
#include "sse/simd/row_ops.hpp"
#include "sse/state/state.hpp"
#include "sse/version.hpp"
