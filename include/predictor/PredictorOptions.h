#pragma once
// Options of a Predictor: optimisations, device, threading, kept outputs.

#include <string>
#include <vector>

#include "predictor/Device.h"
#include "predictor/Limits.h"
#include "predictor/LoadOptions.h"
#include "predictor/Precision.h"

namespace predictor {

// Optimisations, combinable with |.
enum class Optimization : unsigned {
  NONE = 0,
  // Plan activation memory: blobs whose lifetimes do not overlap share
  // storage in one arena per replica (see Net::EnableMemoryPlanning).
  MEMORY = 1u << 0,
  // Optimize the graph once, at construction: fold BatchNorm/Scale into the
  // Convolution/InnerProduct before them, drop no-op layers (Dropout,
  // Split, ...), compute activations in place, compute only the positions
  // that strided 1x1 convolutions read (ResNet's stage ends), fuse a ReLU /
  // Clip into the Convolution/InnerProduct/Deconvolution before it (model() then holds
  // predictor's fused_activation field: written to a file it needs
  // predictor to load), merge sibling convolutions that read the same blob
  // into one (followed by a Slice), compute a 1x1 expansion of few input
  // channels with the depthwise Convolution that alone reads its output
  // (fused_pointwise, likewise). At run time each replica also elides
  // copies (Net::EnableCopyElision): at a batch of one, Concat parts are
  // written straight into the Concat's output and Slice outputs read
  // straight from its input. Every replica runs the
  // optimized model, which holds the same outputs up to rounding; the
  // Model the caller passed is left as it is. Only the net inputs, the net
  // outputs and `extra_outputs` keep their names and values: list in
  // extra_outputs any other blob read after a forward.
  GRAPH = 1u << 1,
};

inline Optimization operator|(Optimization a, Optimization b) {
  return static_cast<Optimization>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
inline bool has(Optimization set, Optimization flag) {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(flag)) != 0;
}

struct PredictorOptions {
  Optimization optimization = Optimization::NONE;
  // Where replicas run: the CPU (default) or a CUDA device. With a CUDA
  // device, the weights are uploaded to it once, at construction, and every
  // replica on it reads that one copy; each replica has its own stream.
  Device device = Device::cpu();
  // Several devices (overrides `device` when not empty): each new replica
  // goes to the next device in turn; each device holds one copy of the
  // weights, uploaded at construction.
  std::vector<Device> devices;
  // GPU replicas capture their forward into a CUDA graph once an input
  // shape repeats, and replay it (see Net::EnableCudaGraphs).
  bool cuda_graphs = true;
  // The arithmetic of the GPU replicas' matrix products: FP32 (default) or
  // TF32 tensor cores (opt-in; see predictor/Precision.h for what it
  // changes and by how much). TF32 with a CPU among the devices is an Error.
  Precision precision = Precision::FP32;
  // Blobs returned by forward() besides the net outputs (and, with
  // Optimization::MEMORY, kept out of storage sharing; with
  // Optimization::GRAPH, kept by the optimizer, which never folds them away
  // nor changes what they hold).
  std::vector<std::string> extra_outputs;
  // The memory planning strategy with Optimization::MEMORY: "best_fit"
  // (default: one arena at the lower bound) or "linear_scan". Any other name
  // is an error at construction, with or without MEMORY.
  std::string memory_strategy;
  // Input shape overrides, NetState and the weight budget for loading the
  // model.
  LoadOptions load;
  // Each replica's memory and work budgets, checked at every new input
  // shape before anything is allocated or run (see predictor/Limits.h).
  ReplicaLimits limits;
  // Threads that compute each forward's layers on the CPU, the calling
  // thread included: 1 (default) runs each forward on its calling thread
  // alone, the threads that call forward() being the parallelism; N > 1
  // gives every replica its own pool of N - 1 threads, started with the
  // replica (an Error if one cannot start), that the layers split their work
  // over (the outputs are the same bits for any N). Replicas never share
  // these threads, and no BLAS's process-wide thread setting is touched.
  // 1 to kMaxComputeThreads; other values are an Error naming this option.
  static constexpr int kMaxComputeThreads = 256;
  int compute_threads = 1;
};

}  // namespace predictor
