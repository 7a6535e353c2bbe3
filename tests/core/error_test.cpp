#include "sse/error.hpp"

#include <string>

#include <gtest/gtest.h>

#include "sse/core/checks.hpp"
#include "sse/core/tensor_view.hpp"

namespace sse::test {
namespace {

TEST(Status, OkAndError) {
  const Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(ok.message().empty());
  const Status bad = Status::error("q: wrong");
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(static_cast<bool>(bad));
  EXPECT_EQ(bad.message(), "q: wrong");
}

// What an error is about travels as data: a tool names its own file or flag from subject()
// and adds detail(), without reading the message.
TEST(Status, CarriesItsSubjectAsData) {
  const Status about = Status::error("key_rows", "expected 0 or 1 <= r <= K = 8, got 9");
  EXPECT_EQ(about.message(), "key_rows: expected 0 or 1 <= r <= K = 8, got 9");
  EXPECT_EQ(about.subject(), "key_rows");
  EXPECT_EQ(about.detail(), "expected 0 or 1 <= r <= K = 8, got 9");
  const Status plain = Status::error("outputs overlap");
  EXPECT_TRUE(plain.subject().empty());
  EXPECT_EQ(plain.detail(), "outputs overlap");
  // A subject from a file is quoted in the message (one line), kept as it is in subject().
  const Status quoted = Status::error("bad\nkey", "unexpected key");
  EXPECT_EQ(quoted.message(), "bad\\x0akey: unexpected key");
  EXPECT_EQ(quoted.subject(), "bad\nkey");
  // The checks fill it in, and the exception keeps it.
  const float data[4] = {1, 2, 3, 4};
  const TensorView<const float, 2> view{data, {2, 2}};
  const Status shape = detail::check_shape("k2", view, "[A,B]", {2, 3});
  EXPECT_EQ(shape.subject(), "k2");
  EXPECT_EQ(shape.detail(), "expected shape [A,B] = [2,3], got [2,2]");
  try {
    throw_if_error(shape);
    FAIL() << "no exception";
  } catch (const sse::invalid_argument& e) {
    EXPECT_EQ(e.subject(), "k2");
    EXPECT_EQ(std::string(e.what()), shape.message());
  }
}

TEST(Status, ThrowIfErrorThrowsInvalidArgument) {
  EXPECT_NO_THROW(throw_if_error(Status{}));
  try {
    throw_if_error(Status::error("v: bad"));
    FAIL() << "no exception";
  } catch (const sse::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "v: bad");
  }
}

TEST(Checks, NameTheTensorAndBothShapes) {
  std::vector<float> data(24);
  const TensorView<const float, 3> view(data.data(), {2, 3, 4});
  EXPECT_TRUE(detail::check_shape("x", view, "[A,B,C]", {2, 3, 4}).ok());
  EXPECT_EQ(detail::check_shape("x", view, "[A,B,C]", {2, 3, 5}).message(),
            "x: expected shape [A,B,C] = [2,3,5], got [2,3,4]");
  EXPECT_EQ(detail::check_shape("y", TensorView<const float, 3>{}, "[A,B,C]", {1, 2, 3}).message(),
            "y: missing (expected shape [A,B,C] = [1,2,3])");
}

TEST(Checks, RangesAndDecaysReportTheFirstBadElement) {
  std::vector<float> g = {-1, 0, -2, 0.5f, -3, 1};
  const TensorView<const float, 2> view(g.data(), {2, 3});
  EXPECT_EQ(detail::check_log_decays("g", view).message(),
            "g: element [1,0] = 0.5 is positive; log decays must be finite and <= 0");
  EXPECT_EQ(detail::check_range("g", view, -3.0, 1.0, "is out").ok(), true);
  EXPECT_EQ(detail::check_range("g", view, -2.5, 1.0, "is out").message(),
            "g: element [1,1] = -3 is out");
}

}  // namespace
}  // namespace sse::test
