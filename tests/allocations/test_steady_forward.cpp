// A steady forward allocates nothing: once a replica has run a shape, every
// later forward of that shape reuses its activations, scratch and pool, and
// no kernel, layer or the runtime around them calls operator new. A service
// calling forward() thousands of times a second would otherwise pay the
// allocator (and its locks across worker threads) on every request.
//
// This binary replaces the global operator new and delete to count the
// allocations made while a counter is armed, from any thread (the compute
// pool's threads included). It is its own executable so that no other test
// runs under the replacement, and it is not built with the sanitizers, which
// bring their own.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <ostream>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "common/zoo_models.h"
#include "predictor/Blob.h"
#include "predictor/Model.h"
#include "predictor/Predictor.h"

namespace {

std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

void* allocate(std::size_t size, std::size_t alignment) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = nullptr;
  if (alignment <= alignof(std::max_align_t)) {
    p = std::malloc(size);
  } else if (posix_memalign(&p, alignment, size) != 0) {
    p = nullptr;
  }
  return p;
}

void* allocate_or_throw(std::size_t size, std::size_t alignment) {
  void* p = allocate(size, alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t size) { return allocate_or_throw(size, alignof(std::max_align_t)); }
void* operator new[](std::size_t size) { return allocate_or_throw(size, alignof(std::max_align_t)); }
void* operator new(std::size_t size, std::align_val_t a) {
  return allocate_or_throw(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a) {
  return allocate_or_throw(size, static_cast<std::size_t>(a));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return allocate(size, alignof(std::max_align_t));
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return allocate(size, alignof(std::max_align_t));
}
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(size, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace predictor {
namespace {

// The operator new calls `action` makes, from any thread.
template <typename Action>
long allocations_of(Action&& action) {
  allocations.store(0);
  counting.store(true);
  action();
  counting.store(false);
  return allocations.load();
}

TEST(CountingAllocator, CountsTheAllocationsOfTheArmedWindowOnly) {
  auto outside = std::make_unique<std::vector<int>>(100);
  const long counted = allocations_of([] {
    std::vector<int> a(10);
    auto b = std::make_unique<double>(1.0);
    std::string c(100, 'x');
    EXPECT_EQ(a.size() + c.size(), 110u);
  });
  EXPECT_EQ(counted, 3);
  EXPECT_EQ(outside->size(), 100u);
}

struct SteadyCase {
  testing::ZooModel model;
  Optimization optimization;
  int compute_threads;
};

std::string case_name(const ::testing::TestParamInfo<SteadyCase>& info) {
  const SteadyCase& c = info.param;
  std::string name = c.model.label();
  name += has(c.optimization, Optimization::GRAPH) ? "_graph" : "";
  name += has(c.optimization, Optimization::MEMORY) ? "_memory" : "";
  return name + "_" + std::to_string(c.compute_threads) + "threads";
}

class SteadyForward : public ::testing::TestWithParam<SteadyCase> {};

// For GoogleTest's messages.
void PrintTo(const SteadyCase& c, std::ostream* out) { *out << c.model.folder << "/" << c.model.file; }

// Each CPU entry point, warmed up by two forwards (the first builds the
// replica and its pool; a path reached from another re-binds the inputs),
// then counted over three more. On several compute threads a thread can
// take over a task another thread was late to start (thread_pool.cpp), and
// the kernels' per-thread buffers (a few KB: sgemm's packing buffer, the
// pooling masks, im2col_packed's lane tables) grow the first time their
// thread runs that task; they never shrink, so the forwards settle: the
// windows of three are repeated until one allocates nothing, which must
// come within kMostWindows, after few allocations in all.
constexpr int kMostWindows = 20;
constexpr long kMostSettlingAllocations = 64;

TEST_P(SteadyForward, AllocatesNothing) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const SteadyCase& c = GetParam();
  PredictorOptions options;
  options.optimization = c.optimization;
  options.compute_threads = c.compute_threads;
  Predictor predictor(Model::WithRandomWeightsFromFile(c.model.path(), 1, c.model.load_options()), options);

  std::vector<std::unique_ptr<Blob>> inputs;
  std::vector<Blob*> input_pointers;
  std::vector<Predictor::Input> raw_inputs;
  for (std::size_t i = 0; i < predictor.input_names().size(); ++i) {
    inputs.push_back(testing::random_blob(predictor.input_shapes()[i], 7 + static_cast<std::uint32_t>(i)));
    input_pointers.push_back(inputs.back().get());
    raw_inputs.push_back({inputs.back()->cpu_data(), predictor.input_shapes()[i]});
  }
  // The allocations of the first window of three forwards that makes no
  // more than `expected` (on one thread: the first window).
  const auto steady_allocations = [&](auto&& forward, long expected) {
    forward();
    forward();
    long settling = 0;
    for (int window = 0; window < kMostWindows; ++window) {
      const long counted = allocations_of([&] {
        for (int i = 0; i < 3; ++i) forward();
      });
      if (counted <= expected || c.compute_threads == 1) return counted;
      settling += counted - expected;
      EXPECT_LE(settling, kMostSettlingAllocations) << "per-thread buffers keep growing";
    }
    return -1L;  // never settled
  };
  EXPECT_EQ(steady_allocations([&] { predictor.forward(input_pointers); }, 0), 0) << "forward(blobs)";
  EXPECT_EQ(steady_allocations([&] { predictor.forward(raw_inputs); }, 0), 0) << "forward(raw pointers)";
  // By name: only the vector it returns, one per call.
  const std::vector<std::string> named = predictor.output_names();
  EXPECT_EQ(steady_allocations([&] { predictor.forward(input_pointers, named); }, 3), 3) << "forward(blobs, names)";
}

// The models of the speed comparison (VGG-16 left out: its layers are
// AlexNet's, and its weights are slow to make) and the fork models, on each
// path of the runtime: plain, the graph optimizer with the memory planner,
// one and two compute threads.
std::vector<SteadyCase> steady_cases() {
  std::vector<SteadyCase> cases;
  for (const testing::ZooModel& model : testing::all_zoo_models()) {
    for (const char* folder :
         {"bvlc_alexnet", "bvlc_googlenet", "densenet121", "inception_v3", "mobilenet_v1", "mobilenet_v2", "resnet50",
          "squeezenet_v1.1", "mobilenet_ssd", "shufflenet_v2_1x", "yolov3_tiny"}) {
      if (model.folder != folder) continue;
      cases.push_back({model, Optimization::NONE, 1});
      cases.push_back({model, Optimization::GRAPH | Optimization::MEMORY, 1});
      cases.push_back({model, Optimization::GRAPH | Optimization::MEMORY, 2});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Zoo, SteadyForward, ::testing::ValuesIn(steady_cases()), case_name);

}  // namespace
}  // namespace predictor
