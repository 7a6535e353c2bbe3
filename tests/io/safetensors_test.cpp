// .safetensors reading (io/safetensors.hpp): a file written here round-trips; BF16 and F16
// convert exactly; every malformed header is an error naming the problem.

#include "sse/io/safetensors.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/random.hpp"
#include <unistd.h>

namespace sse::test {
namespace {

/// A file image from a JSON header text and a data section.
std::vector<std::byte> image_of(const std::string& header, const std::vector<std::uint8_t>& data) {
  std::vector<std::byte> image(8 + header.size() + data.size());
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i, n >>= 8) image[std::size_t(i)] = std::byte(n & 0xFF);
  std::memcpy(image.data() + 8, header.data(), header.size());
  std::copy(data.begin(), data.end(),
            reinterpret_cast<std::uint8_t*>(image.data()) + 8 + header.size());
  return image;
}

TEST(Safetensors, WrittenFileRoundTrips) {
  const std::vector<float> a = randn<float>(12, 1), b = randn<float>(5, 2);
  const std::string path =
      ::testing::TempDir() + "/roundtrip_" + std::to_string(::getpid()) + ".safetensors";
  io::write_safetensors(path, {{"model.layers.0.attn.q_proj.weight", {3, 4}, a.data()},
                               {"lm_head.weight", {5}, b.data()}});
  const io::SafetensorsFile file = io::read_safetensors(path);
  ASSERT_EQ(file.tensors.size(), 2u);
  EXPECT_EQ(file.tensors.at("model.layers.0.attn.q_proj.weight").shape,
            (std::vector<index_t>{3, 4}));
  EXPECT_EQ(file.to_float32("model.layers.0.attn.q_proj.weight"), a);
  EXPECT_EQ(file.to_float32("lm_head.weight"), b);
  std::remove(path.c_str());
}

TEST(Safetensors, HalfAndBfloat16ConvertExactly) {
  // F16: 1.0 (0x3C00), -2.5 (0xC100), 2^-24 (0x0001, the smallest subnormal), inf (0x7C00).
  // BF16: 1.0 (0x3F80), -0.15625 (0xBE20).
  const std::string header =
      R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"__metadata__":{"format":"pt"}})";
  const std::vector<std::uint8_t> data = {0x00, 0x3C, 0x00, 0xC1, 0x01, 0x00,
                                          0x00, 0x7C, 0x80, 0x3F, 0x20, 0xBE};
  const auto image = image_of(header, data);
  io::SafetensorsFile file;
  ASSERT_TRUE(io::parse_safetensors(image.data(), image.size(), file).ok());
  const std::vector<float> h = file.to_float32("h");
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.5f);
  EXPECT_EQ(h[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(h[3], std::numeric_limits<float>::infinity());
  EXPECT_EQ(file.to_float32("b"), (std::vector<float>{1.0f, -0.15625f}));
  EXPECT_EQ(file.metadata.at("format"), "pt");
}

TEST(Safetensors, MalformedFilesAreErrors) {
  struct Bad {
    std::string header;
    std::size_t data_bytes;
    std::string expected;
  };
  const std::vector<Bad> cases = {
      {"{not json", 0, "not valid JSON"},
      {"[1, 2]", 0, "not a JSON object"},
      {R"({"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8,
       "dtype F64 is not supported"},
      {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8, "holds 4 bytes"},
      {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8, "outside the data section"},
      {R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, "non-negative integers"},
      {R"({"x":{"dtype":"F32","shape":[2]}})", 8, "missing \"data_offsets\""},
      {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8, "share bytes"},
      {R"({"__metadata__":{"a":1}})", 0, "is not a string"},
      // Element counts that wrap around 2^64 (2^40 * 2^40 = 2^80 = 0 mod 2^64), or hide a huge
      // extent behind a zero one, are refused before they reach a shape.
      {R"({"x":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0]}})", 0,
       "shape too large"},
      {R"({"x":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", 0,
       "shape too large"},
  };
  for (const Bad& bad : cases) {
    const auto image = image_of(bad.header, std::vector<std::uint8_t>(bad.data_bytes));
    io::SafetensorsFile file;
    const Status status = io::parse_safetensors(image.data(), image.size(), file);
    EXPECT_NE(status.message().find(bad.expected), std::string::npos)
        << bad.header << ": \"" << status.message() << "\"";
  }
  std::vector<std::byte> truncated = image_of("{}", {});
  truncated[0] = std::byte(200);  // header length beyond the file
  io::SafetensorsFile file;
  EXPECT_NE(io::parse_safetensors(truncated.data(), truncated.size(), file)
                .message()
                .find("exceeds the file size"),
            std::string::npos);
  EXPECT_THROW(io::read_safetensors("/nonexistent/model.safetensors"), sse::invalid_argument);
}

}  // namespace
}  // namespace sse::test
