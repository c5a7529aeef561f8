#pragma once
// Options of a Predictor: optimisations, device, threading, kept outputs.

#include <string>
#include <vector>

#include "predictor/Device.h"
#include "predictor/Limits.h"
#include "predictor/LoadOptions.h"

namespace predictor {

// Optimisations, combinable with |.
enum class Optimization : unsigned {
  NONE = 0,
  // Plan activation memory: blobs whose lifetimes do not overlap share
  // storage in one arena per replica (see Net::EnableMemoryPlanning).
  MEMORY = 1u << 0,
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
  // Blobs returned by forward() besides the net outputs (and, with
  // Optimization::MEMORY, kept out of storage sharing).
  std::vector<std::string> extra_outputs;
  // The memory planning strategy with Optimization::MEMORY: "best_fit"
  // (default: one arena at the lower bound) or "linear_scan".
  std::string memory_strategy;
  // Input shape overrides, NetState and the weight budget for loading the
  // model.
  LoadOptions load;
  // Each replica's memory and work budgets, checked at every new input
  // shape before anything is allocated or run (see predictor/Limits.h).
  ReplicaLimits limits;
};

}  // namespace predictor
