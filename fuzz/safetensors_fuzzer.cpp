// libFuzzer target: the safetensors reader (sse::io::parse_safetensors) over arbitrary bytes: the
// 8-byte header length, the JSON header and the data section. Every input either fails with a
// one-line message or yields tensors whose byte ranges lie inside the data section, match their
// shape and dtype and do not overlap; each is then converted to float32.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "sse/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sse::io::SafetensorsFile file;
  const sse::Status status =
      sse::io::parse_safetensors(reinterpret_cast<const std::byte*>(data), size, file);
  if (!status.ok()) {
    const std::string& message = status.message();
    if (message.empty() || message.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  std::size_t previous_end = 0;  // tensors are checked in offset order below
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (const auto& entry : file.tensors) {
    const sse::io::SafetensorsEntry& tensor = entry.second;
    if (tensor.begin > tensor.end || tensor.end > file.data.size()) std::abort();
    if (tensor.end - tensor.begin != tensor.count() * sse::io::tensor_dtype_size(tensor.dtype)) {
      std::abort();
    }
    for (sse::index_t extent : tensor.shape) {
      if (extent < 0) std::abort();
    }
    if (tensor.end > tensor.begin) ranges.emplace_back(tensor.begin, tensor.end);
    if (file.to_float32(entry.first).size() != tensor.count()) std::abort();
  }
  std::sort(ranges.begin(), ranges.end());
  for (const auto& range : ranges) {
    if (range.first < previous_end) std::abort();
    previous_end = range.second;
  }
  return 0;
}
