#include <gtest/gtest.h>

#include "predictor/CaffeProto.h"
#include "predictor/Blob.h"
#include "predictor/Error.h"

namespace predictor {
namespace {

TEST(Blob, ShapeAndCounts) {
  Blob blob({2, 3, 4, 5});
  EXPECT_EQ(blob.count(), 120u);
  EXPECT_EQ(blob.count(1), 60u);
  EXPECT_EQ(blob.count(1, 3), 12u);
  EXPECT_EQ(blob.shape(-1), 5);
  EXPECT_EQ(blob.CanonicalAxisIndex(-4), 0);
  EXPECT_THROW(blob.CanonicalAxisIndex(4), Error);
  EXPECT_THROW(blob.CanonicalAxisIndex(-5), Error);
  EXPECT_EQ(blob.shape_string(), "2 3 4 5 (120)");
}

TEST(Blob, CountRangesCountNegativeAxesFromTheEndAndRefuseOthers) {
  Blob blob({2, 3, 4, 5});
  EXPECT_EQ(blob.count(-2), 20u);
  EXPECT_EQ(blob.count(-2, 4), 20u);
  EXPECT_EQ(blob.count(0, -1), 24u);
  EXPECT_EQ(blob.count(4), 1u);
  EXPECT_EQ(blob.count(2, 2), 1u);
  // Read past the shape before: count(0, 10) and count(-2) returned 0.
  EXPECT_THROW(blob.count(0, 10), Error);
  EXPECT_THROW(blob.count(5), Error);
  EXPECT_THROW(blob.count(-5), Error);
  EXPECT_THROW(blob.count(3, 1), Error);
}

TEST(Blob, SetCpuDataWithItsOwnPointerKeepsIt) {
  Blob blob({2, 3});
  float* own = blob.mutable_cpu_data();
  for (int i = 0; i < 6; ++i) own[i] = static_cast<float>(i);
  blob.set_cpu_data(own);  // freed the memory, then kept pointing at it
  EXPECT_EQ(blob.cpu_data(), own);
  own[5] = 7.0f;
  EXPECT_EQ(blob.cpu_data()[4], 4.0f);
  EXPECT_EQ(blob.cpu_data()[5], 7.0f);
}

TEST(Blob, ReshapeKeepsStorageWhenShrinking) {
  Blob blob({4, 4});
  float* before = blob.mutable_cpu_data();
  blob.Reshape({2, 4});
  EXPECT_EQ(blob.mutable_cpu_data(), before);
  EXPECT_EQ(blob.capacity(), 16u);
  blob.Reshape({5, 4});
  EXPECT_EQ(blob.capacity(), 20u);
}

TEST(Blob, RejectsNegativeAndHugeShapes) {
  Blob blob;
  EXPECT_THROW(blob.Reshape({2, -1}), Error);
  EXPECT_THROW(blob.Reshape({1 << 20, 1 << 20}), Error);
}

TEST(Blob, ScalarShapeHasOneElement) {
  Blob blob(std::vector<int>{});
  EXPECT_EQ(blob.count(), 1u);
}

TEST(Blob, ZeroCopyInput) {
  std::vector<float> image(6, 1.5f);
  Blob blob({1, 6});
  blob.set_cpu_data(image.data());
  EXPECT_EQ(blob.cpu_data(), image.data());
}

TEST(Blob, SetCpuDataDoesNotRedirectAViewsOwner) {
  Blob owner({4});
  Blob view({4});
  view.ShareData(owner);
  float external[4] = {1, 2, 3, 4};
  view.set_cpu_data(external);
  EXPECT_NE(owner.cpu_data(), external) << "the owner must keep its own storage";
}

TEST(Blob, ShareDataRequiresEnoughElements) {
  Blob small({2});
  Blob large({3});
  EXPECT_THROW(large.ShareData(small), Error);
}

TEST(Blob, ProtoRoundTripModernShape) {
  Blob blob({2, 3});
  for (int i = 0; i < 6; ++i) blob.mutable_cpu_data()[i] = 0.5f * i;
  caffe::BlobProto proto;
  blob.ToProto(&proto);
  Blob back;
  back.FromProto(proto);
  EXPECT_EQ(back.shape(), (std::vector<int>{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(back.cpu_data()[i], 0.5f * i);
}

TEST(Blob, ProtoLegacyShapeAndDoubleData) {
  caffe::BlobProto proto;
  proto.set_num(1);
  proto.set_channels(1);
  proto.set_height(2);
  proto.set_width(2);
  for (double v : {1.0, 2.0, 3.0, 4.25}) proto.add_double_data(v);
  Blob blob;
  blob.FromProto(proto);
  EXPECT_EQ(blob.shape(), (std::vector<int>{1, 1, 2, 2}));
  EXPECT_EQ(blob.cpu_data()[3], 4.25f);
}

// Caffe's ToProto writes a 0-axis blob (PReLU's or Normalize's shared
// scale) with no shape message at all: it reads back as one value.
TEST(Blob, ProtoWithoutShapeIsAZeroAxisBlob) {
  Blob scalar(std::vector<int>{});
  scalar.mutable_cpu_data()[0] = 0.25f;
  caffe::BlobProto proto;
  scalar.ToProto(&proto);
  EXPECT_FALSE(proto.has_shape());
  Blob back({2, 2});
  back.FromProto(proto);
  EXPECT_TRUE(back.shape().empty());
  EXPECT_EQ(back.count(), 1u);
  EXPECT_EQ(back.cpu_data()[0], 0.25f);
}

// A file carrying both forms is read by its legacy fields, as Caffe reads it.
TEST(Blob, ProtoLegacyFieldsWinOverTheShape) {
  caffe::BlobProto proto;
  proto.mutable_shape()->add_dim(4);
  proto.set_num(1);
  proto.set_channels(1);
  proto.set_height(2);
  proto.set_width(2);
  for (int i = 0; i < 4; ++i) proto.add_data(1.0f * i);
  Blob blob;
  blob.FromProto(proto);
  EXPECT_EQ(blob.shape(), (std::vector<int>{1, 1, 2, 2}));
}

TEST(Blob, ProtoWithWrongValueCountIsAnError) {
  caffe::BlobProto proto;
  proto.mutable_shape()->add_dim(3);
  proto.add_data(1.0f);
  Blob blob;
  EXPECT_THROW(blob.FromProto(proto), Error);
}

}  // namespace
}  // namespace predictor
