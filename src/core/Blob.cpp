#include "predictor/Blob.h"

#include <cstring>
#include <limits>
#include <sstream>

#include "predictor/CaffeProto.h"
#include "predictor/Error.h"

namespace predictor {

Blob::Blob(const std::vector<int>& shape) { Reshape(shape); }

void Blob::Reshape(const std::vector<int>& shape) {
  std::size_t count = 1;
  for (int dim : shape) {
    if (dim < 0) throw Error("blob shape has a negative dimension: " + std::to_string(dim));
    if (dim != 0 && count > static_cast<std::size_t>(std::numeric_limits<int>::max()) / dim) {
      throw Error("blob shape is too large (more than 2^31 elements)");
    }
    count *= static_cast<std::size_t>(dim);
  }
  shape_ = shape;
  count_ = count;
  if (count_ > capacity_ || !data_) {
    capacity_ = count_;
    data_ = std::make_shared<SyncedMemory>(capacity_ * sizeof(float));
  }
}

void Blob::CopyFrom(const Blob& other) {
  Reshape(other.shape());
  const bool external = data_->head() != SyncedMemory::UNINITIALIZED && !data_->owns_cpu_data();
  if (data_.use_count() > 1 || external) {
    data_ = std::make_shared<SyncedMemory>(count_ * sizeof(float));
    capacity_ = count_;
  }
  if (count_ > 0) std::memcpy(mutable_cpu_data(), other.cpu_data(), count_ * sizeof(float));
}

std::size_t Blob::count(int start_axis, int end_axis) const {
  std::size_t result = 1;
  for (int i = start_axis; i < end_axis; ++i) result *= static_cast<std::size_t>(shape_[i]);
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
  std::vector<int> shape;
  if (proto.has_shape()) {
    for (int64_t dim : proto.shape().dim()) {
      if (dim < 0 || dim > std::numeric_limits<int>::max()) {
        throw Error("blob dimension out of range: " + std::to_string(dim));
      }
      shape.push_back(static_cast<int>(dim));
    }
  } else if (proto.has_num() || proto.has_channels() || proto.has_height() || proto.has_width()) {
    shape = {proto.num(), proto.channels(), proto.height(), proto.width()};
  }
  Reshape(shape);
  float* dst = mutable_cpu_data();
  if (proto.double_data_size() > 0) {
    if (static_cast<std::size_t>(proto.double_data_size()) != count_) {
      throw Error("blob has " + std::to_string(proto.double_data_size()) + " values for shape " +
                  shape_string());
    }
    for (std::size_t i = 0; i < count_; ++i) dst[i] = static_cast<float>(proto.double_data(i));
  } else {
    if (static_cast<std::size_t>(proto.data_size()) != count_) {
      throw Error("blob has " + std::to_string(proto.data_size()) + " values for shape " +
                  shape_string());
    }
    for (std::size_t i = 0; i < count_; ++i) dst[i] = proto.data(i);
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
