#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "predictor/Error.h"

namespace predictor::cpu {

namespace {

// How long an idle thread polls before it sleeps: long enough to catch the
// next run of a forward whose layers follow each other closely (waking a
// sleeping thread costs 10 to 50 us on a busy virtual machine), short enough
// to cost little while the caller runs serial work between runs.
constexpr std::chrono::microseconds kSpin{30};

// Tasks a run gives to their own threads first (bits of State::owned_claimed).
constexpr int kMaxOwnedTasks = 64;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Polls `done` for up to `spin`, and past it for as long as `keep` says;
// true when `done` became true. The first polls only pause; later ones
// yield the core, so that a thread we wait for that shares this core (a
// busy machine) gets to run instead of waiting out the spin.
template <typename Done, typename Keep>
bool spin_until(std::chrono::microseconds spin, Done done, Keep keep) {
  if (spin.count() == 0) return done();
  for (int i = 0; i < 256; ++i) {
    if (done()) return true;
    cpu_relax();
  }
  const auto deadline = std::chrono::steady_clock::now() + spin;
  for (;;) {
    if (done()) return true;
    std::this_thread::yield();
    if (std::chrono::steady_clock::now() >= deadline && !keep()) return done();
  }
}

}  // namespace

// One run at a time: the caller publishes it (task, count, a new
// generation) under the mutex and opens it; a worker joins an open run under
// the mutex, claims task indices until none are left, and leaves. The caller
// claims indices too, then closes the run (no worker may join any more) and
// waits for the workers that joined to leave. A worker that wakes after the
// run closed does nothing, so the caller never waits for a slow-to-wake
// thread that has no task.
//
// Thread t (the caller 0, worker w w + 1) claims task t first, then those
// past the threads' own from `next`, then any own task whose thread has not
// come yet. Kernels split a layer's work the same way layer after layer, so
// task t of the next layer reads what task t of this one wrote, from its
// own core's cache. (Claimed all from one counter, a worker took task 0
// before the caller in 7% of MobileNet v2's runs and 15% of ResNet-50's,
// on the 2-core Xeon, and then read its shares from the other core.)
struct ThreadPool::State {
  std::mutex mutex;
  std::condition_variable wake;    // workers: a new run, or stop
  std::condition_variable idle;    // the caller: the last joined worker left
  std::atomic<std::uint64_t> generation{0};  // written under the mutex; polled while spinning
  std::atomic<bool> stop{false};  // written under the mutex; polled while spinning
  bool open = false;               // workers may join the current run
  // Workers inside the current run; changed under the mutex, polled without.
  std::atomic<int> joined{0};
  const std::function<void(int)>* task = nullptr;
  int count = 0;
  std::atomic<int> next{0};                     // the next unclaimed task index past the own ones
  int owned = 0;                                // tasks [0, owned) go to their threads first
  std::atomic<std::uint64_t> owned_claimed{0};  // bit t: own task t claimed
  std::atomic<bool> running{false};  // run() in progress: catches a reentrant or shared use
  std::exception_ptr error;        // the first exception of the current run
  std::chrono::microseconds spin{0};
  std::atomic<int> holds{0};       // ThreadPool::hold() minus release(): idle workers poll while positive
  std::vector<std::thread> workers;

  // Whether idle workers poll past the spin (and are not to sleep); never
  // once the pool stops, held or not.
  bool held() const {
    return spin.count() > 0 && holds.load(std::memory_order_relaxed) > 0 && !stop.load(std::memory_order_relaxed);
  }

  // Whether own task t was still unclaimed (and is now this thread's).
  bool ClaimOwned(int t) {
    const std::uint64_t bit = std::uint64_t{1} << t;
    return (owned_claimed.fetch_or(bit, std::memory_order_relaxed) & bit) == 0;
  }

  // Runs tasks until none are left, as thread `self`; records the first
  // exception.
  void Claim(const std::function<void(int)>& run_task, int total, int self) {
    const auto run_one = [&](int i) {
      try {
        run_task(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
      }
    };
    if (self < owned && ClaimOwned(self)) run_one(self);
    for (int i = next.fetch_add(1, std::memory_order_relaxed); i < total;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      run_one(i);
    }
    // Own tasks of threads that have not come yet.
    for (int t = 0; t < owned; ++t) {
      if (ClaimOwned(t)) run_one(t);
    }
  }

  void WorkerLoop(int self) {
    std::uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* run_task = nullptr;
      int total = 0;
      {
        spin_until(
            spin, [&] { return generation.load(std::memory_order_acquire) != seen; }, [&] { return held(); });
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] {
          return stop.load(std::memory_order_relaxed) || generation.load(std::memory_order_relaxed) != seen || held();
        });
        if (stop.load(std::memory_order_relaxed)) return;
        if (generation.load(std::memory_order_relaxed) == seen) continue;  // held: back to polling
        seen = generation.load(std::memory_order_relaxed);
        if (!open) continue;  // closed before this thread woke: nothing left to claim
        joined.fetch_add(1, std::memory_order_relaxed);
        run_task = task;
        total = count;
      }
      Claim(*run_task, total, self);
      std::lock_guard<std::mutex> lock(mutex);
      if (joined.fetch_sub(1, std::memory_order_relaxed) == 1) idle.notify_one();
    }
  }

  // Stops and joins every started worker.
  void StopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop.store(true, std::memory_order_relaxed);
    }
    wake.notify_all();
    for (std::thread& worker : workers) worker.join();
    workers.clear();
  }
};

ThreadPool::ThreadPool(int threads) : threads_(threads), state_(nullptr) {
  if (threads < 1) throw Error("ThreadPool: threads must be at least 1, not " + std::to_string(threads));
  state_ = new State;
  const unsigned cores = std::thread::hardware_concurrency();
  // More threads than cores: a spinning thread would take the core another
  // one needs; sleep at once instead.
  state_->spin = cores != 0 && static_cast<unsigned>(threads) > cores ? std::chrono::microseconds{0} : kSpin;
  const int to_start = threads - 1;  // the caller is the pool's first thread
  try {
    state_->workers.reserve(static_cast<std::size_t>(to_start));
    for (int i = 0; i < to_start; ++i) {
      state_->workers.emplace_back([state = state_, self = i + 1] { state->WorkerLoop(self); });
    }
  } catch (const std::exception& error) {
    // No destructor runs for a constructor that throws: stop the workers
    // already started, or their std::threads would terminate the process.
    const std::size_t started = state_->workers.size();
    state_->StopWorkers();
    delete state_;
    state_ = nullptr;
    throw Error("ThreadPool: cannot start compute thread " + std::to_string(started + 1) + " of " +
                std::to_string(to_start) + ": " + error.what());
  }
}

ThreadPool::~ThreadPool() {
  state_->StopWorkers();
  delete state_;
}

void ThreadPool::run(int count, const std::function<void(int)>& task) {
  if (count <= 0) return;
  State& s = *state_;
  if (s.running.exchange(true, std::memory_order_acquire)) {
    throw Error("ThreadPool::run: the pool is already running (a task called run() on its own pool, or two "
                "threads share one pool)");
  }
  if (s.workers.empty() || count == 1) {
    // Nobody to share with: inline, in order.
    std::exception_ptr error;
    for (int i = 0; i < count; ++i) {
      try {
        task(i);
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
    s.running.store(false, std::memory_order_release);
    if (error) std::rethrow_exception(error);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.task = &task;
    s.count = count;
    s.owned = std::min({count, threads_, kMaxOwnedTasks});
    s.owned_claimed.store(0, std::memory_order_relaxed);
    s.next.store(s.owned, std::memory_order_relaxed);
    s.error = nullptr;
    s.open = true;
    s.generation.store(s.generation.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  s.wake.notify_all();
  s.Claim(task, count, 0);
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.open = false;  // every index is claimed: later wakers have nothing to do
    if (s.joined.load(std::memory_order_relaxed) > 0) {
      lock.unlock();
      // The workers still inside usually finish their last task about now;
      // held, the caller has nothing else to do until they have.
      spin_until(s.spin, [&] { return s.joined.load(std::memory_order_relaxed) == 0; }, [&] { return s.held(); });
      lock.lock();
      s.idle.wait(lock, [&] { return s.joined.load(std::memory_order_relaxed) == 0; });
    }
    s.task = nullptr;
    error = s.error;
    s.error = nullptr;
  }
  s.running.store(false, std::memory_order_release);
  if (error) std::rethrow_exception(error);
}

void ThreadPool::hold() {
  State& s = *state_;
  if (s.holds.fetch_add(1, std::memory_order_relaxed) == 0 && s.spin.count() > 0) {
    // Under the mutex: a worker deciding to sleep sees the hold or gets the notification.
    { std::lock_guard<std::mutex> lock(s.mutex); }
    s.wake.notify_all();
  }
}

void ThreadPool::release() { state_->holds.fetch_sub(1, std::memory_order_relaxed); }

void parallel_for_on_pool(ThreadPool* pool, int count, const std::function<void(int)>& task) { pool->run(count, task); }

void parallel_ranges_split(ThreadPool* pool, std::size_t n, std::size_t parts, std::size_t align,
                           const std::function<void(std::size_t, std::size_t)>& body) {
  align = std::max<std::size_t>(align, 1);
  // Equal shares, rounded up to the alignment; rounding may leave the last
  // parts empty, and those are not run.
  const std::size_t share = ((n + parts - 1) / parts + align - 1) / align * align;
  const int tasks = static_cast<int>((n + share - 1) / share);
  parallel_for(pool, tasks, [&](int t) {
    const std::size_t begin = static_cast<std::size_t>(t) * share;
    body(begin, std::min(n, begin + share));
  });
}

}  // namespace predictor::cpu
