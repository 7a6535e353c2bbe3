#pragma once

/// \file
/// The library version: the single source that CMake parses (CMakeLists.txt) and that a plain
/// `-I include/` user sees too.

#define SSE_VERSION_MAJOR 0
#define SSE_VERSION_MINOR 1
#define SSE_VERSION_PATCH 0

/// The version as one integer, MAJOR * 10000 + MINOR * 100 + PATCH (as fmt's FMT_VERSION).
#define SSE_VERSION (SSE_VERSION_MAJOR * 10000 + SSE_VERSION_MINOR * 100 + SSE_VERSION_PATCH)
