#pragma once
// What predictor accepts from a model, a file or a caller before it spends
// memory or time on it. Every dimension and every product of dimensions read
// from a file, a flag or the API is range-checked against these; exceeding
// one is a predictor::Error (OutOfMemoryError for the memory budgets) naming
// the file, layer and field, raised before anything is allocated.

#include <cstddef>
#include <cstdint>

namespace predictor {

// Elements of any one blob (activations, inputs, weights): shapes are int
// vectors, so 2^31 - 1 floats (8 GiB).
inline constexpr std::int64_t kMaxBlobElements = 2147483647;

// Axes of any one blob (Caffe's kMaxBlobAxes).
inline constexpr int kMaxBlobAxes = 32;

// Bytes of a .caffemodel (protobuf cannot parse a larger message) or a
// .prototxt read from disk.
inline constexpr std::size_t kMaxCaffemodelBytes = 2147483647;
inline constexpr std::size_t kMaxPrototxtBytes = 256u << 20;

// The default memory budgets (LoadOptions::max_weight_bytes,
// PredictorOptions::max_replica_bytes): generous for real models (VGG-16's
// weights are 0.5 GiB) yet far below what would take a service down.
inline constexpr std::size_t kDefaultMaxWeightBytes = std::size_t{4} << 30;
inline constexpr std::size_t kDefaultMaxReplicaBytes = std::size_t{16} << 30;
// The default work budget of one forward, in multiply-adds (estimated as
// the sum over layers of top elements times weights per output): 1e13, a
// hundred times VGG-16 at batch 64.
inline constexpr double kDefaultMaxForwardMultiplyAdds = 1e13;

// The budgets of one replica (Net) at each new input shape, checked when it
// is shaped, before any activation is allocated or any layer runs.
struct ReplicaLimits {
  // Activations and scratch, in bytes: what the memory plan allocates with
  // Optimization::MEMORY, every blob's own storage without it.
  std::size_t max_bytes = kDefaultMaxReplicaBytes;
  double max_multiply_adds = kDefaultMaxForwardMultiplyAdds;
};

}  // namespace predictor
