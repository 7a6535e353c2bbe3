// libFuzzer target: the safetensors reader (sse::io::parse_safetensors) over arbitrary bytes: the
// 8-byte header length, the JSON header and the data section. Every input either fails with a
// one-line message or yields tensors whose byte ranges lie inside the data section, match their
// shape and dtype and do not overlap; each is then converted to float32.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sse/io/safetensors.hpp"

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sse::io::SafetensorsFile file;
  const sse::Status status =
      sse::io::parse_safetensors(reinterpret_cast<const std::byte*>(data), size, file);
  if (!status.ok()) {
    sse::fuzz::require(sse::fuzz::one_line(status.message()), "errors are one line");
    return 0;
  }
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (const auto& entry : file.tensors) {
    const sse::io::SafetensorsEntry& tensor = entry.second;
    sse::fuzz::require(tensor.begin <= tensor.end && tensor.end <= file.data.size(),
                       "a tensor's bytes lie in the data section");
    sse::fuzz::require(
        tensor.end - tensor.begin == tensor.count() * sse::io::tensor_dtype_size(tensor.dtype),
        "a tensor's bytes are its shape times its dtype");
    sse::fuzz::require(sse::fuzz::non_negative(tensor.shape), "extents are >= 0");
    sse::fuzz::require(file.to_float32(entry.first).size() == tensor.count(),
                       "to_float32 converts every element");
    if (tensor.end > tensor.begin) ranges.emplace_back(tensor.begin, tensor.end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    sse::fuzz::require(ranges[i - 1].second <= ranges[i].first, "tensors do not share bytes");
  }
  return 0;
}
