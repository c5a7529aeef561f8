#include "predictor/Blob.h"

#include <cstring>
#include <limits>
#include <sstream>

#include "core/shape_check.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"

namespace predictor {

Blob::Blob(const std::vector<int>& shape) { Reshape(shape); }

void Blob::Reshape(const std::vector<int>& shape) {
  for (int dim : shape) {
    if (dim < 0) throw Error("blob shape " + predictor::shape_string(shape) + " has a negative dimension");
  }
  const auto count = static_cast<std::size_t>(checked_count(shape, "blob"));
  shape_ = shape;
  count_ = count;
  // Storage that was never touched (say, a huge shape whose allocation
  // failed) is resized freely: it costs nothing, and a failed growth must
  // not leave a capacity that every later, smaller shape tries to allocate.
  const bool untouched = data_ && data_->head() == SyncedMemory::UNINITIALIZED && data_.use_count() == 1;
  if (count_ > capacity_ || !data_ || (untouched && count_ != capacity_)) {
    capacity_ = count_;
    data_ = std::make_shared<SyncedMemory>(capacity_ * sizeof(float));
  }
}

void Blob::CopyFrom(const Blob& other) {
  if (&other == this) return;  // already a copy of itself
  if (!other.data_) throw Error("Blob::CopyFrom: the source blob has no data (Reshape it first)");
  Reshape(other.shape());
  const bool external = data_->head() != SyncedMemory::UNINITIALIZED && !data_->owns_cpu_data();
  if (data_.use_count() > 1 || external) {
    data_ = std::make_shared<SyncedMemory>(count_ * sizeof(float));
    capacity_ = count_;
  }
  if (count_ > 0) std::memcpy(mutable_cpu_data(), other.cpu_data(), count_ * sizeof(float));
}

std::size_t Blob::count(int start_axis, int end_axis) const {
  // Negative axes count from the end; then 0 <= start <= end <= num_axes.
  const int n = num_axes();
  const int start = start_axis < 0 ? start_axis + n : start_axis;
  const int end = end_axis < 0 ? end_axis + n : end_axis;
  if (start < 0 || end > n || start > end) {
    throw Error("count(" + std::to_string(start_axis) + ", " + std::to_string(end_axis) + "): not a range of axes of a " +
                std::to_string(n) + "-D blob of shape " + shape_string());
  }
  std::size_t result = 1;
  for (int i = start; i < end; ++i) result *= static_cast<std::size_t>(shape_[i]);
  return result;
}

int Blob::CanonicalAxisIndex(int axis) const {
  const int n = num_axes();
  if (axis < -n || axis >= n) {
    throw Error("axis " + std::to_string(axis) + " out of range for a " + std::to_string(n) +
                "-D blob of shape " + shape_string());
  }
  return axis < 0 ? axis + n : axis;
}

std::string Blob::shape_string() const {
  std::ostringstream out;
  for (int dim : shape_) out << dim << ' ';
  out << '(' << count_ << ')';
  return out.str();
}

std::string shape_string(const std::vector<int>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ',';
    text += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return text + ")";
}

const float* Blob::cpu_data() const {
  if (!data_) return nullptr;
  return static_cast<const float*>(data_->cpu_data());
}

float* Blob::mutable_cpu_data() {
  if (!data_) return nullptr;
  return static_cast<float*>(data_->mutable_cpu_data());
}

const float* Blob::gpu_data() const {
  if (!data_) return nullptr;
  return static_cast<const float*>(data_->gpu_data());
}

float* Blob::mutable_gpu_data() {
  if (!data_) return nullptr;
  return static_cast<float*>(data_->mutable_gpu_data());
}

void Blob::UnshareStorage() {
  // A shared SyncedMemory (a view) must not be redirected under its other
  // users: give this blob storage of its own first.
  if (!data_ || data_.use_count() > 1 || data_->size() < count_ * sizeof(float)) {
    capacity_ = count_;
    data_ = std::make_shared<SyncedMemory>(capacity_ * sizeof(float));
  }
}

void Blob::set_cpu_data(float* data) {
  UnshareStorage();
  data_->set_cpu_data(data);
}

void Blob::set_gpu_data(float* data) {
  UnshareStorage();
  data_->set_gpu_data(data);
}

void Blob::ShareData(const Blob& other) {
  if (other.count() < count_) {
    throw Error("ShareData: source blob (" + other.shape_string() + ") is smaller than " + shape_string());
  }
  data_ = other.data_;
  capacity_ = other.capacity_;
}

void Blob::set_data(std::shared_ptr<SyncedMemory> data, std::size_t capacity_floats) {
  data_ = std::move(data);
  capacity_ = capacity_floats;
}

const float* Blob::shared_cpu_data() const {
  if (!data_) return nullptr;
  return static_cast<const float*>(data_->current_cpu_data());
}

void Blob::FromProto(const caffe::BlobProto& proto) {
  // As Caffe reads it: the deprecated 4-D fields where any is present, else
  // the shape's dims (none: a 0-axis blob, which Caffe writes without a shape).
  std::vector<int> shape;
  if (proto.has_num() || proto.has_channels() || proto.has_height() || proto.has_width()) {
    shape = checked_shape({proto.num(), proto.channels(), proto.height(), proto.width()}, "blob num/channels/height/width");
  } else {
    const auto& dims = proto.shape().dim();
    shape = checked_shape({dims.begin(), dims.end()}, "blob shape");
  }
  // The values must be there before any memory is spent on them: a file
  // that declares a huge shape and carries no data costs nothing.
  const bool doubles = proto.double_data_size() > 0;
  const auto values = static_cast<std::size_t>(doubles ? proto.double_data_size() : proto.data_size());
  const auto expected = static_cast<std::size_t>(checked_count(shape, "blob shape"));
  if (values != expected) {
    throw Error("blob has " + std::to_string(values) + " values for shape " + predictor::shape_string(shape) +
                " (" + std::to_string(expected) + " expected)");
  }
  Reshape(shape);
  float* dst = mutable_cpu_data();
  if (doubles) {
    for (std::size_t i = 0; i < count_; ++i) dst[i] = static_cast<float>(proto.double_data(i));
  } else {
    std::memcpy(dst, proto.data().data(), count_ * sizeof(float));
  }
}

void Blob::ToProto(caffe::BlobProto* proto) const {
  proto->Clear();
  for (int dim : shape_) proto->mutable_shape()->add_dim(dim);
  const float* src = cpu_data();
  auto* out = proto->mutable_data();
  out->Reserve(static_cast<int>(count_));
  for (std::size_t i = 0; i < count_; ++i) out->AddAlreadyReserved(src[i]);
}

}  // namespace predictor
