#include "sse/io/npy.hpp"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <unistd.h>

namespace sse::test {
namespace {

using io::DType;
using io::NpyArray;

std::vector<std::byte> bytes_of(const std::string& s) {
  std::vector<std::byte> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = std::byte(static_cast<unsigned char>(s[i]));
  return out;
}

/// A .npy image with the given header dict (padded as NumPy does) and `data_bytes` of payload.
std::string image(const std::string& dict, std::size_t data_bytes, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += '\0';
  out += char(header.size() & 0xff);
  out += char((header.size() >> 8) & 0xff);
  if (major != 1) out += std::string(2, '\0');
  out += header;
  out.append(data_bytes, '\x01');
  return out;
}

Status parse(const std::string& s, NpyArray& out) {
  const auto b = bytes_of(s);
  return io::parse_npy(b.data(), b.size(), out);
}

TEST(Npy, ParsesTheHeadersNumPyWrites) {
  NpyArray a;
  ASSERT_TRUE(
      parse(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24), a).ok());
  EXPECT_EQ(a.dtype, DType::kFloat32);
  EXPECT_EQ(a.shape, (std::vector<index_t>{2, 3}));
  EXPECT_EQ(a.bytes.size(), 24u);

  ASSERT_TRUE(
      parse(image("{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", 40, 2), a).ok());
  EXPECT_EQ(a.dtype, DType::kInt64);
  EXPECT_EQ(a.shape, (std::vector<index_t>{5}));

  ASSERT_TRUE(
      parse(image("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8, 3), a).ok());
  EXPECT_EQ(a.rank(), 0u);
  EXPECT_EQ(a.size(), 1);

  ASSERT_TRUE(
      parse(image("{\"shape\": (0, 4), \"fortran_order\": False, \"descr\": \"<i4\"}", 0), a).ok());
  EXPECT_EQ(a.dtype, DType::kInt32);
  EXPECT_EQ(a.size(), 0);
}

TEST(Npy, RejectsMalformedFiles) {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  struct Bad {
    std::string image;
    const char* message;
  };
  std::string no_newline = image(ok_dict, 24);
  no_newline[no_newline.rfind('\n')] = ' ';
  const Bad cases[] = {
      {"", "bad magic"},
      {"\x93NUMPX\x01\x00\x10\x00", "bad magic"},
      {image(ok_dict, 24, 4), "unsupported .npy format version 4"},
      {image(ok_dict, 24).substr(0, 40), "truncated header"},
      {no_newline, "must end with a newline"},
      {image(ok_dict, 23), "truncated file"},
      {image(ok_dict, 25), "trailing bytes"},
      {image("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24), "big-endian"},
      {image("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24), "Fortran-order"},
      {image("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", 12),
       "unsupported dtype '<f2'"},
      {image("{'descr': '|f4', 'fortran_order': False, 'shape': (2, 3), }", 24), "one-byte types"},
      {image("{'descr': '<f4', 'shape': (2, 3), }", 24),
       "needs 'descr', 'fortran_order' and 'shape'"},
      {image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24),
       "unexpected key 'x'"},
      {image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 24), "bad extent"},
      {image("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", 24), "must be a tuple"},
      {image("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }", 24), "True or False"},
      {image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x", 24),
       "text after the dict"},
      {image("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0),
       "bad extent"},
      {image("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 8), }", 0),
       "too large"},
      // Text quoted from the file stays on one line: control bytes are shown as \xNN.
      {image("{'descr': '<\xfe\n', 'fortran_order': False, 'shape': (2, 3), }", 24),
       "unsupported dtype '<\\xfe\\x0a'"},
      {image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'a\tb': 1}", 24),
       "unexpected key 'a\\x09b'"},
  };
  for (const Bad& bad : cases) {
    NpyArray a;
    const Status s = parse(bad.image, a);
    ASSERT_FALSE(s.ok()) << bad.message;
    EXPECT_NE(s.message().find(bad.message), std::string::npos)
        << "\"" << s.message() << "\" lacks \"" << bad.message << "\"";
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  }
}

TEST(Npy, WriteThenReadRoundTrips) {
  const std::string path =
      ::testing::TempDir() + "/sse_npy_roundtrip_" + std::to_string(::getpid()) + ".npy";
  const std::vector<float> f = {1.5f, -2.25f, 3e-8f, 7, 8, 9};
  io::write_npy(path, f.data(), {2, 1, 3});
  NpyArray a = io::read_npy(path);
  EXPECT_EQ(a.dtype, DType::kFloat32);
  EXPECT_EQ(a.shape, (std::vector<index_t>{2, 1, 3}));
  EXPECT_EQ(a.to_vector<float>(), f);
  EXPECT_EQ(a.to_vector<double>()[1], -2.25);

  const std::vector<std::int32_t> i = {3, -4};
  io::write_npy(path, i.data(), {2});
  a = io::read_npy(path);
  EXPECT_EQ(a.dtype, DType::kInt32);
  EXPECT_EQ(a.to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, -4}));

  const double scalar = 0.125;
  io::write_npy(path, &scalar, {});
  a = io::read_npy(path);
  EXPECT_EQ(a.rank(), 0u);
  EXPECT_EQ(a.to_vector<double>(), std::vector<double>{0.125});

  const std::vector<std::int64_t> big = {1LL << 40};
  io::write_npy(path, big.data(), {1});
  EXPECT_EQ(io::read_npy(path).to_vector<std::int64_t>(), big);

  // NumPy's layout: the data starts on a 64-byte boundary.
  const auto img = io::npy_image(f.data(), {6});
  EXPECT_EQ((img.size() - f.size() * sizeof(float)) % 64, 0u);
  std::remove(path.c_str());
}

TEST(Npy, ReadErrorsNameTheFile) {
  try {
    io::read_npy("/nonexistent/x.npy");
    FAIL() << "no exception";
  } catch (const sse::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/x.npy: cannot open file");
  }
  const std::string path =
      ::testing::TempDir() + "/sse_npy_bad_" + std::to_string(::getpid()) + ".npy";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    std::fputs("not numpy", f);
    std::fclose(f);
  }
  try {
    io::read_npy(path);
    FAIL() << "no exception";
  } catch (const sse::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), path + ": not a .npy file (bad magic string)");
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace sse::test
