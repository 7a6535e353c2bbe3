// libFuzzer target: the .npy reader (sse::io::parse_npy) over arbitrary bytes. Every input either
// fails with a one-line message or yields an array whose data is exactly its shape times its
// dtype, which is then read element by element and written back out and parsed again.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "sse/io/npy.hpp"

namespace {

// Writes `array` as T and parses the image again: the shape must survive.
template <class T>
void round_trip(const sse::io::NpyArray& array) {
  const std::vector<T> values = array.to_vector<T>();
  const std::vector<char> image = sse::io::npy_image(values.data(), array.shape);
  sse::io::NpyArray again;
  const sse::Status status =
      sse::io::parse_npy(reinterpret_cast<const std::byte*>(image.data()), image.size(), again);
  if (!status.ok() || again.shape != array.shape || again.dtype != sse::io::dtype_of<T>()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sse::io::NpyArray array;
  const sse::Status status =
      sse::io::parse_npy(reinterpret_cast<const std::byte*>(data), size, array);
  if (!status.ok()) {
    const std::string& message = status.message();
    if (message.empty() || message.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  if (array.bytes.size() !=
      static_cast<std::size_t>(array.size()) * sse::io::dtype_size(array.dtype)) {
    std::abort();
  }
  for (sse::index_t extent : array.shape) {
    if (extent < 0) std::abort();
  }
  switch (array.dtype) {
    case sse::io::DType::kFloat32:
      round_trip<float>(array);
      break;
    case sse::io::DType::kFloat64:
      round_trip<double>(array);
      break;
    case sse::io::DType::kInt32:
      round_trip<std::int32_t>(array);
      break;
    case sse::io::DType::kInt64:
      round_trip<std::int64_t>(array);
      break;
  }
  return 0;
}
