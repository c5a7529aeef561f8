#pragma once
// A GPU net's forward captured into a CUDA graph and replayed: at batch 1 a
// forward is a hundred or more small kernels, and replaying a graph costs a
// fraction of launching them one by one.
//
// The graph bakes in every pointer and shape, so it is tied to a key: the
// net's memory generation (bumped by every reshape and memory plan) and the
// device addresses of the net inputs. The first forward at a key runs
// uncaptured (it may allocate: lazily created blobs, cuBLAS state); the
// second is captured and launched; later ones replay. A capture that fails
// (an operation that cannot be captured) turns capturing off for good and
// the forward runs uncaptured.

#include <functional>
#include <string>
#include <vector>

namespace predictor {

class CapturedForward {
 public:
  CapturedForward() = default;
  ~CapturedForward();
  CapturedForward(const CapturedForward&) = delete;
  CapturedForward& operator=(const CapturedForward&) = delete;

  void set_enabled(bool enabled);
  bool enabled() const { return enabled_ && failure_.empty(); }
  // Why capturing was turned off; empty while it works.
  const std::string& failure() const { return failure_; }
  // Whether the last Run replayed (or captured and launched) a graph.
  bool replayed() const { return replayed_; }

  // Runs the forward on `stream`: `enqueue` enqueues every layer's work
  // (and is called at most once per Run, inside a capture or not). The key
  // is the memory generation and the inputs' device addresses; a Run at an
  // unchanged key allocates nothing.
  void Run(void* stream, unsigned long long generation, const std::vector<const void*>& inputs,
           const std::function<void()>& enqueue);

 private:
  void Drop();

  bool enabled_ = true;
  std::string failure_;
  unsigned long long generation_ = 0;
  std::vector<const void*> inputs_;
  int runs_at_key_ = 0;
  void* graph_ = nullptr;  // cudaGraphExec_t
  bool replayed_ = false;
};

}  // namespace predictor
