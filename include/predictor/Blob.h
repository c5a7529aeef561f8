#pragma once
// An N-d float array: a shape plus storage in a SyncedMemory. Inference only,
// so there is no gradient ("diff"). Shapes use Caffe's conventions: axis 0 is
// the batch, negative axis indices count from the end.
//
// Thread-safety: none; one Blob per thread (inputs are typically
// thread_local), or read-only sharing of blobs whose data is current on the
// side being read.

#include "predictor/Export.h"
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "predictor/SyncedMemory.h"

namespace predictor::caffe {
class BlobProto;
}

namespace predictor {

class PREDICTOR_API Blob {
 public:
  Blob() = default;
  explicit Blob(const std::vector<int>& shape);
  // Move-only: a copy would silently share storage. Use CopyFrom for a deep
  // copy, ShareData for deliberate sharing.
  Blob(const Blob&) = delete;
  Blob& operator=(const Blob&) = delete;
  Blob(Blob&&) noexcept = default;
  Blob& operator=(Blob&&) noexcept = default;

  // Deep copy of other's shape and host data into storage of this blob's own.
  void CopyFrom(const Blob& other);

  // Changes the shape. Storage is reallocated (lazily) only when the new
  // count exceeds the capacity, as in Caffe; data is not preserved then.
  // Throws predictor::Error on a negative dimension or an overflowing count.
  void Reshape(const std::vector<int>& shape);
  void ReshapeLike(const Blob& other) { Reshape(other.shape()); }

  const std::vector<int>& shape() const { return shape_; }
  int shape(int axis) const { return shape_[CanonicalAxisIndex(axis)]; }
  int num_axes() const { return static_cast<int>(shape_.size()); }
  std::size_t count() const { return count_; }
  // Product of dimensions [start, end) (a negative axis counts from the
  // end; end may be num_axes()); throws predictor::Error unless 0 <= start
  // <= end <= num_axes() so.
  std::size_t count(int start_axis, int end_axis) const;
  std::size_t count(int start_axis) const { return count(start_axis, num_axes()); }
  // Maps an axis in [-num_axes, num_axes) to [0, num_axes); throws
  // predictor::Error when out of range.
  int CanonicalAxisIndex(int axis) const;
  std::string shape_string() const;  // "1 3 224 224 (150528)"; see also the free shape_string

  // Data access (see SyncedMemory for the head semantics).
  const float* cpu_data() const;
  float* mutable_cpu_data();
  const float* gpu_data() const;
  float* mutable_gpu_data();
  // Zero copy: points this blob at caller-owned memory holding count()
  // floats. The caller keeps ownership; the pointer must stay valid while the
  // blob is used. Call after Reshape (a later Reshape that grows the blob
  // drops the external pointer and allocates).
  void set_cpu_data(float* data);
  void set_gpu_data(float* data);

  // Makes this blob use other's storage (views: Flatten, Reshape, Split).
  void ShareData(const Blob& other);
  const std::shared_ptr<SyncedMemory>& data() const { return data_; }
  void set_data(std::shared_ptr<SyncedMemory> data, std::size_t capacity_floats);
  std::size_t capacity() const { return capacity_; }

  // Host data assuming it is already current there; never moves the head.
  // For weights shared read-only between threads.
  const float* shared_cpu_data() const;

  // Reads shape and data (float or double) from a BlobProto, as Caffe does:
  // the legacy num/channels/height/width where any of them is set, else the
  // `shape` message's dims (none, or no message: a 0-axis blob of one value).
  void FromProto(const caffe::BlobProto& proto);
  // Writes shape (modern form) and float data.
  void ToProto(caffe::BlobProto* proto) const;

 private:
  // Gives this blob a SyncedMemory of its own, of at least count() floats,
  // unless it already has one nobody else shares.
  void UnshareStorage();

  std::vector<int> shape_;
  std::size_t count_ = 0;
  std::size_t capacity_ = 0;  // in floats
  std::shared_ptr<SyncedMemory> data_;
};

// A shape in messages, "(1,3,224,224)". A negative dim (unknown, as in a
// declared input shape; a Blob never has one) reads "?".
PREDICTOR_API std::string shape_string(const std::vector<int>& shape);

}  // namespace predictor
