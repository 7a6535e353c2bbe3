#include "sse/error.hpp"

#include <string>

#include <gtest/gtest.h>

#include "sse/core/checks.hpp"

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
