#pragma once
// The compute threads of one forward (PredictorOptions::compute_threads):
// a small fixed pool owned by one replica, so that replicas never share or
// contend for threads and a service's own threads stay the outer
// parallelism. The calling thread takes part in every run, so a pool of N
// threads starts N - 1 workers; a pool of 1 runs everything inline.
//
// Kernels take a `ThreadPool*` (null means the calling thread alone) and
// split their work with parallel_for or parallel_ranges, never so that a
// sum changes its order: results are the same bits for any thread count.

#include <cstddef>
#include <functional>

namespace predictor::cpu {

class ThreadPool {
 public:
  // `threads` >= 1; throws predictor::Error otherwise or when a worker
  // cannot start (the ones started are stopped first).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }
  // Runs task(i) for every i in [0, count), spread over the pool's threads
  // (the caller's included), and returns when all have finished. The first
  // exception a task throws is rethrown here once all tasks are done. Not
  // reentrant: a task must not call run() on the same pool.
  void run(int count, const std::function<void(int)>& task);

  // While holds outnumber releases, idle workers poll for the next run
  // instead of going to sleep after a short spin, and hold() wakes the
  // sleeping ones, so that the next run finds them ready. For a forward:
  // between its runs the caller does serial work (layers too small to
  // split) that can outlast the spin, and waking a sleeping worker costs
  // 30-50 us, as much as a small layer takes. A pool with more threads than
  // the machine has cores never polls, held or not.
  void hold();
  void release();

 private:
  struct State;
  int threads_;
  State* state_;
};

// The threads a kernel may split over: pool->size(), or 1 for null.
inline int pool_threads(const ThreadPool* pool) { return pool ? pool->size() : 1; }

// parallel_for's run on the pool, out of line.
void parallel_for_on_pool(ThreadPool* pool, int count, const std::function<void(int)>& task);

// task(i) for i in [0, count): on `pool` when it has more than one thread
// and count > 1, else inline on the calling thread, in order. The task goes
// to the pool by reference: a std::function holding a lambda of more than
// two captures allocates on every call (once per parallel_for, measured),
// which a forward must not.
template <typename Task>
void parallel_for(ThreadPool* pool, int count, Task&& task) {
  if (pool_threads(pool) <= 1 || count <= 1) {
    for (int i = 0; i < count; ++i) task(i);
    return;
  }
  parallel_for_on_pool(pool, count, std::ref(task));
}

// Simple element-wise work (an activation, a copy, a broadcast) worth one
// task: a run costs microseconds, so smaller arrays are done inline.
constexpr std::size_t kMinElementsPerTask = 8192;

// parallel_ranges' split over the pool, out of line: `parts` (>= 2) ranges.
void parallel_ranges_split(ThreadPool* pool, std::size_t n, std::size_t parts, std::size_t align,
                           const std::function<void(std::size_t, std::size_t)>& body);

// Splits [0, n) into at most pool_threads(pool) contiguous ranges, as many
// as give each about `min_items` items or more, every boundary a multiple
// of `align` (16 floats keep the threads' writes on separate cache lines),
// and runs body(begin, end) for each, as parallel_for does. One range is
// [0, n), run inline with no std::function in between: small calls cost
// nothing. Nothing runs for n == 0.
template <typename Body>
void parallel_ranges(ThreadPool* pool, std::size_t n, std::size_t min_items, std::size_t align, Body&& body) {
  if (n == 0) return;
  const std::size_t most = static_cast<std::size_t>(pool_threads(pool));
  const std::size_t fit = n / (min_items > 0 ? min_items : 1);
  const std::size_t parts = fit < most ? fit : most;
  if (parts <= 1) {
    body(std::size_t{0}, n);
    return;
  }
  parallel_ranges_split(pool, n, parts, align, std::ref(body));
}

}  // namespace predictor::cpu
