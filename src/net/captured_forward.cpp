#include "net/captured_forward.h"

#include <exception>

#include "cuda/cuda_api.h"
#include "predictor/Error.h"

namespace predictor {

CapturedForward::~CapturedForward() { Drop(); }

void CapturedForward::Drop() {
  cuda::destroy_graph(graph_);
  graph_ = nullptr;
}

void CapturedForward::set_enabled(bool enabled) {
  enabled_ = enabled;
  if (!enabled) Drop();
}

void CapturedForward::Run(void* stream, unsigned long long generation, const std::vector<const void*>& inputs,
                          const std::function<void()>& enqueue) {
  replayed_ = false;
  if (!enabled()) {
    enqueue();
    return;
  }
  if (generation != generation_ || inputs != inputs_) {
    Drop();
    generation_ = generation;
    inputs_ = inputs;
    runs_at_key_ = 0;
  }
  if (graph_ == nullptr && runs_at_key_++ == 0) {
    enqueue();  // first time at this key: allocations happen here
    return;
  }
  if (graph_ == nullptr) {
    cuda::begin_capture(stream);
    std::string failure;
    try {
      enqueue();
    } catch (const std::exception& error) {
      // Something in the forward cannot be captured (or failed outright):
      // end the capture, stop capturing, and run it uncaptured, where a
      // real error surfaces again.
      failure = error.what();
    }
    try {
      void* graph = cuda::end_capture(stream);
      if (failure.empty()) {
        graph_ = graph;
      } else {
        cuda::destroy_graph(graph);
      }
    } catch (const Error& error) {
      if (failure.empty()) failure = error.what();
    }
    if (!failure.empty()) {
      failure_ = failure;
      enqueue();
      return;
    }
  }
  cuda::launch_graph(graph_, stream);
  replayed_ = true;
}

}  // namespace predictor
