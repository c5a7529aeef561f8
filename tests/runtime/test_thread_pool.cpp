// cpu::ThreadPool, the compute threads of one forward: every task once,
// errors, back-to-back runs, several pools at once. In tests/runtime so that
// scripts/tsan.sh runs it under ThreadSanitizer.
#include <gtest/gtest.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/thread_pool.h"
#include "predictor/Error.h"

namespace predictor {
namespace {

// Runs `count` tasks on `pool` and checks that each ran exactly once.
void expect_each_task_once(cpu::ThreadPool* pool, int count) {
  std::vector<std::atomic<int>> runs(static_cast<std::size_t>(count));
  for (auto& r : runs) r = 0;
  pool->run(count, [&](int i) { runs[static_cast<std::size_t>(i)].fetch_add(1); });
  for (int i = 0; i < count; ++i) ASSERT_EQ(runs[static_cast<std::size_t>(i)].load(), 1) << "task " << i;
}

TEST(ThreadPool, EveryTaskRunsExactlyOnce) {
  // 65: more threads than take their own task first (64).
  for (int threads : {1, 2, 3, 5, 65}) {
    cpu::ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int count : {0, 1, 2, 3, 7, 64, 1000}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + ", count " + std::to_string(count));
      expect_each_task_once(&pool, count);
    }
  }
}

TEST(ThreadPool, NegativeCountRunsNothing) {
  cpu::ThreadPool pool(2);
  int ran = 0;
  pool.run(-3, [&](int) { ++ran; });
  EXPECT_EQ(ran, 0);
}

TEST(ThreadPool, ResultsWrittenByTasksAreVisibleAfterRun) {
  cpu::ThreadPool pool(3);
  std::vector<int> out(513, 0);  // plain writes: run() must order them before it returns
  for (int round = 0; round < 50; ++round) {
    pool.run(static_cast<int>(out.size()), [&](int i) { out[static_cast<std::size_t>(i)] = i + round; });
    for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], static_cast<int>(i) + round);
  }
}

TEST(ThreadPool, ManySuccessiveRuns) {
  cpu::ThreadPool pool(3);
  long long total = 0;
  for (int round = 0; round < 5000; ++round) {
    std::atomic<long long> sum{0};
    const int count = 1 + round % 9;
    pool.run(count, [&](int i) { sum.fetch_add(i + 1); });
    ASSERT_EQ(sum.load(), count * (count + 1) / 2) << "round " << round;
    total += sum.load();
  }
  EXPECT_GT(total, 0);
}

TEST(ThreadPool, TheFirstExceptionIsRethrownAfterAllTasks) {
  for (int threads : {1, 2, 4}) {
    cpu::ThreadPool pool(threads);
    std::atomic<int> ran{0};
    try {
      pool.run(20, [&](int i) {
        ran.fetch_add(1);
        if (i % 7 == 3) throw Error("task " + std::to_string(i) + " failed");
      });
      FAIL() << "no exception with " << threads << " threads";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("failed"), std::string::npos) << error.what();
    }
    EXPECT_EQ(ran.load(), 20) << "every task still runs, " << threads << " threads";
    // The pool stays usable.
    expect_each_task_once(&pool, 33);
  }
}

TEST(ThreadPool, ExceptionsOfAnyTypeTravel) {
  cpu::ThreadPool pool(2);
  EXPECT_THROW(pool.run(4, [](int i) {
    if (i == 3) throw std::runtime_error("plain");
  }),
               std::runtime_error);
  EXPECT_THROW(pool.run(4, [](int i) {
    if (i == 0) throw 42;
  }),
               int);
  expect_each_task_once(&pool, 9);
}

TEST(ThreadPool, RunInsideATaskOfTheSamePoolIsAnError) {
  cpu::ThreadPool pool(2);
  std::atomic<int> errors{0};
  pool.run(2, [&](int) {
    try {
      pool.run(2, [](int) {});
    } catch (const Error&) {
      errors.fetch_add(1);
    }
  });
  EXPECT_EQ(errors.load(), 2);
  expect_each_task_once(&pool, 5);
}

TEST(ThreadPool, SeveralPoolsAtOnceEachOnItsOwnThread) {
  // As replicas do: each service thread owns a pool and runs it.
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      cpu::ThreadPool pool(1 + t % 3);
      for (int round = 0; round < 300; ++round) {
        const int count = 1 + (round + t) % 11;
        std::vector<int> out(static_cast<std::size_t>(count), -1);
        pool.run(count, [&](int i) { out[static_cast<std::size_t>(i)] = i * t; });
        for (int i = 0; i < count; ++i) failures += out[static_cast<std::size_t>(i)] != i * t;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ThreadPool, PoolsComeAndGo) {
  for (int i = 0; i < 50; ++i) {
    cpu::ThreadPool pool(1 + i % 4);
    if (i % 2 == 0) expect_each_task_once(&pool, i);
  }
}

TEST(ThreadPool, HeldPoolRunsEveryTaskOnceAcrossSerialStretches) {
  // Held, idle workers poll instead of sleeping; runs separated by serial
  // work longer than their spin must still see every task once, nested
  // holds count, and after the last release the workers sleep and wake as
  // before.
  cpu::ThreadPool pool(3);
  pool.hold();
  pool.hold();
  for (int round = 0; round < 40; ++round) {
    if (round % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    expect_each_task_once(&pool, 1 + round % 7);
    if (round == 20) pool.release();
  }
  pool.release();
  for (int round = 0; round < 10; ++round) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    expect_each_task_once(&pool, 2 + round);
  }
}

TEST(ThreadPool, EachThreadTakesItsOwnTaskFirst) {
  // Task t goes to thread t (the caller is thread 0) unless that thread has
  // not come by the time the others run out of tasks: kernels rely on it to
  // read, layer after layer, the share of a map their own core wrote. Task 1
  // waits here until task 0 has started, so whoever runs task 1 cannot take
  // task 0 as well: the caller claims its own task before any other, so it
  // must run task 0 every time. (Claimed from one counter, a polling worker
  // took task 0 before the caller in a few percent of the runs.)
  cpu::ThreadPool pool(2);
  pool.hold();
  const std::thread::id caller = std::this_thread::get_id();
  for (int round = 0; round < 500; ++round) {
    std::atomic<bool> started{false};
    std::thread::id ran_task_zero;
    pool.run(2, [&](int i) {
      if (i == 0) {
        ran_task_zero = std::this_thread::get_id();
        started.store(true, std::memory_order_release);
      } else {
        while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
      }
    });
    ASSERT_EQ(ran_task_zero, caller) << "round " << round;
    if (round % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the worker falls asleep
  }
  pool.release();
}

TEST(ThreadPool, APoolDestroyedWhileHeldStops) {
  // Polling workers must notice the stop (the destructor would wait forever).
  for (int i = 0; i < 20; ++i) {
    cpu::ThreadPool pool(2 + i % 3);
    pool.hold();
    if (i % 2 == 0) expect_each_task_once(&pool, 5);
  }
}

TEST(ThreadPool, BadThreadCountsAreErrors) {
  EXPECT_THROW(cpu::ThreadPool(0), Error);
  EXPECT_THROW(cpu::ThreadPool(-2), Error);
}

TEST(ParallelFor, InlineWithoutAPoolInOrder) {
  std::vector<int> order;
  cpu::parallel_for(nullptr, 5, [&](int i) { order.push_back(i); });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  cpu::ThreadPool one(1);
  order.clear();
  cpu::parallel_for(&one, 3, [&](int i) { order.push_back(i); });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(cpu::pool_threads(nullptr), 1);
  EXPECT_EQ(cpu::pool_threads(&one), 1);
}

TEST(ParallelRanges, CoverEveryItemOnceOnAlignedBoundaries) {
  cpu::ThreadPool pool(3);
  for (std::size_t n : {0, 1, 15, 16, 17, 100, 1000, 4099}) {
    for (std::size_t min_items : {1, 16, 300}) {
      for (std::size_t align : {1, 16}) {
        std::vector<std::atomic<int>> seen(n);
        for (auto& s : seen) s = 0;
        std::atomic<int> ranges{0};
        cpu::parallel_ranges(&pool, n, min_items, align, [&](std::size_t begin, std::size_t end) {
          EXPECT_LT(begin, end);
          EXPECT_TRUE(begin % align == 0) << begin;
          ranges.fetch_add(1);
          for (std::size_t i = begin; i < end; ++i) seen[i].fetch_add(1);
        });
        for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i].load(), 1) << "n " << n << " item " << i;
        EXPECT_LE(ranges.load(), 3);
        if (n > 0 && n < 2 * min_items) {
          EXPECT_EQ(ranges.load(), 1) << "small: one range, inline";
        }
      }
    }
  }
}

// Every one of the `threads` tasks waits until all have started: only a
// run in which every thread of the pool takes part can finish.
void run_meeting(cpu::ThreadPool* pool, int threads) {
  std::atomic<int> arrived{0};
  pool->run(threads, [&](int) {
    arrived.fetch_add(1);
    while (arrived.load() < threads) std::this_thread::yield();
  });
}

TEST(ThreadPool, ManyRunsInWhichEveryThreadTakesPart) {
  for (int threads : {2, 3}) {
    cpu::ThreadPool pool(threads);
    for (int round = 0; round < 300; ++round) {
      run_meeting(&pool, threads);
      if (round % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // workers fall asleep
    }
  }
}

TEST(ThreadPool, Overhead) {
  // Not a pass/fail bound (the machine may be shared): prints what a run
  // costs, which decides how small a kernel's work may be before it runs
  // inline (kMinElementsPerTask). Medians: a descheduled thread costs one
  // run milliseconds.
  const auto median_microseconds = [](int runs, std::chrono::milliseconds pause, auto body) {
    std::vector<double> us;
    for (int i = 0; i < runs; ++i) {
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
      const auto start = std::chrono::steady_clock::now();
      body();
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(us.begin(), us.begin() + runs / 2, us.end());
    return us[static_cast<std::size_t>(runs / 2)];
  };
  for (int threads : {2, 3}) {
    cpu::ThreadPool pool(threads);
    std::atomic<int> sink{0};
    const double empty = median_microseconds(2000, std::chrono::milliseconds(0), [&] {
      pool.run(threads, [&](int t) { sink.fetch_add(t, std::memory_order_relaxed); });
    });
    const double meeting =
        median_microseconds(2000, std::chrono::milliseconds(0), [&] { run_meeting(&pool, threads); });
    // After a pause the workers sleep: the run pays for waking them.
    const double asleep = median_microseconds(50, std::chrono::milliseconds(2), [&] { run_meeting(&pool, threads); });
    std::printf("ThreadPool(%d), median per run of %d tasks: empty %.2f us (the caller takes them all), every "
                "thread taking part %.2f us back to back, %.2f us after 2 ms idle\n",
                threads, threads, empty, meeting, asleep);
  }
}

#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
TEST(ThreadPool, AWorkerThatCannotStartIsAnError) {
  // Threads created after this ask for a 127 TiB stack, which no system
  // grants (see PoolSafety.AWorkerThatCannotStartIsAnError).
  pthread_attr_t original, huge;
  ASSERT_EQ(pthread_getattr_default_np(&original), 0);
  ASSERT_EQ(pthread_attr_init(&huge), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&huge, std::size_t{127} << 40), 0);
  ASSERT_EQ(pthread_setattr_default_np(&huge), 0);
  std::string message;
  try {
    cpu::ThreadPool pool(3);
  } catch (const Error& error) {
    message = error.what();
  }
  ASSERT_EQ(pthread_setattr_default_np(&original), 0);
  pthread_attr_destroy(&huge);
  pthread_attr_destroy(&original);
  EXPECT_NE(message.find("cannot start compute thread 1 of 2"), std::string::npos) << message;
  cpu::ThreadPool pool(3);
  expect_each_task_once(&pool, 10);
}
#endif

}  // namespace
}  // namespace predictor
