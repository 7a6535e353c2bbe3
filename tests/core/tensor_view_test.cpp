#include "sse/core/tensor_view.hpp"

#include <vector>

#include <gtest/gtest.h>

namespace sse::test {
namespace {

TEST(TensorView, RowMajorByDefault) {
  std::vector<float> data(2 * 3 * 4);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = float(i);
  TensorView<float, 3> view(data.data(), {2, 3, 4});
  EXPECT_EQ(view.strides(), (Extents<3>{12, 4, 1}));
  EXPECT_EQ(view(1, 2, 3), 23.0f);
  EXPECT_EQ(view.at(1, 1), data.data() + 16);
  EXPECT_EQ(view.size(), 24);
  EXPECT_EQ(view.required_span_size(), 24);
  EXPECT_TRUE(view.is_row_major_contiguous());
  EXPECT_TRUE(view.present());
  EXPECT_FALSE((TensorView<float, 3>{}).present());
}

TEST(TensorView, StridedViewsAndSpans) {
  std::vector<float> data(100);
  TensorView<float, 2> columns(data.data() + 1, {5, 3}, {10, 2});
  EXPECT_EQ(columns.required_span_size(), 4 * 10 + 2 * 2 + 1);
  EXPECT_FALSE(columns.is_row_major_contiguous());
  EXPECT_EQ(&columns(2, 1), data.data() + 1 + 20 + 2);
  TensorView<float, 2> empty(data.data(), {0, 3});
  EXPECT_EQ(empty.required_span_size(), 0);
  // A size-1 dimension may have any stride and still be contiguous.
  TensorView<float, 3> broadcast(data.data(), {1, 4, 5}, {999, 5, 1});
  EXPECT_TRUE(broadcast.is_row_major_contiguous());
}

TEST(TensorView, ConstConversionAndOverlap) {
  std::vector<float> a(50), b(50);
  TensorView<float, 1> first(a.data(), {25});
  TensorView<const float, 1> second(a.data() + 24, {10});
  TensorView<const float, 1> converted = first;
  EXPECT_EQ(converted.data(), a.data());
  EXPECT_TRUE(views_overlap(first, second));
  EXPECT_FALSE(views_overlap(TensorView<float, 1>(a.data(), {24}), second));
  EXPECT_FALSE(views_overlap(first, TensorView<float, 1>(b.data(), {50})));
  EXPECT_FALSE(views_overlap(first, TensorView<float, 1>{}));
}

TEST(Shape, Formats) {
  EXPECT_EQ(format_shape(Extents<4>{2, 64, 4, 32}), "[2,64,4,32]");
  EXPECT_EQ(format_shape(std::vector<index_t>{}), "[]");
  EXPECT_EQ(element_count(Extents<3>{2, 0, 5}), 0);
}

}  // namespace
}  // namespace sse::test
