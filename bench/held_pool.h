#pragma once
// The compute pool of a benchmark's multi-thread variants, held awake for
// the benchmark's life as a forward holds its pool (Net::ComputeThreadsAwake):
// without the hold, a worker that went to sleep between iterations is woken
// by each one (30-50 us), which a forward does not pay between its layers.

#include <memory>

#include "kernels/cpu/thread_pool.h"

namespace predictor::bench {

class HeldPool {
 public:
  // No pool (the calling thread alone) for one thread.
  explicit HeldPool(int threads) : pool_(threads > 1 ? std::make_unique<cpu::ThreadPool>(threads) : nullptr) {
    if (pool_) pool_->hold();
  }
  ~HeldPool() {
    if (pool_) pool_->release();
  }
  HeldPool(const HeldPool&) = delete;
  HeldPool& operator=(const HeldPool&) = delete;

  cpu::ThreadPool* get() const { return pool_.get(); }

 private:
  std::unique_ptr<cpu::ThreadPool> pool_;
};

}  // namespace predictor::bench
