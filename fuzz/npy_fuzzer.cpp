// libFuzzer target: the .npy reader (sse::io::parse_npy) over arbitrary bytes. Every input either
// fails with a one-line message or yields an array whose data is exactly its shape times its
// dtype, which is then read element by element and written back out and parsed again.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sse/io/npy.hpp"

#include "fuzz_check.hpp"

namespace {

// Writes `array` as T and parses the image again: the shape must survive.
template <class T>
void round_trip(const sse::io::NpyArray& array) {
  const std::vector<T> values = array.to_vector<T>();
  const std::vector<char> image = sse::io::npy_image(values.data(), array.shape);
  sse::io::NpyArray again;
  const sse::Status status =
      sse::io::parse_npy(reinterpret_cast<const std::byte*>(image.data()), image.size(), again);
  sse::fuzz::require(
      status.ok() && again.shape == array.shape && again.dtype == sse::io::dtype_of<T>(),
      "a parsed array written back parses to the same shape and dtype");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sse::io::NpyArray array;
  const sse::Status status =
      sse::io::parse_npy(reinterpret_cast<const std::byte*>(data), size, array);
  if (!status.ok()) {
    sse::fuzz::require(sse::fuzz::one_line(status.message()), "errors are one line");
    return 0;
  }
  sse::fuzz::require(array.bytes.size() ==
                         static_cast<std::size_t>(array.size()) * sse::io::dtype_size(array.dtype),
                     "the data is the shape times the dtype");
  sse::fuzz::require(sse::fuzz::non_negative(array.shape), "extents are >= 0");
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
