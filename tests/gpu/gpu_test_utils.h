#pragma once
// Helpers for the GPU kernel tests (tests/gpu): a fixture that skips without
// a CUDA device and owns a stream, device buffers, and comparisons of GPU
// results with the CPU kernels' and with plain-loop references.
//
// Every test derives from GpuTest, whose SetUp calls GTEST_SKIP() when no
// device is usable, so that builds without a GPU (this machine, CI) list and
// skip the tests. Nothing here touches CUDA before SetUp.

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "cuda/cuda_api.h"
#include "kernels/cpu/activation.h"

namespace predictor::gpu_testing {

using testing::random_values;

// A fused activation as test traces print it: "", " relu(s)" or " clip(a,b)".
inline std::string activation_text(const cpu::Activation& activation) {
  switch (activation.kind) {
    case cpu::Activation::Kind::kReLU:
      return " relu(" + std::to_string(activation.negative_slope) + ")";
    case cpu::Activation::Kind::kClip:
      return " clip(" + std::to_string(activation.min) + "," + std::to_string(activation.max) + ")";
    default:
      return "";
  }
}

// A convolution's epilogue as the layers apply it: bias, a residual (which
// may be the output buffer itself), an activation.
struct ConvEpilogue {
  bool bias = false;
  bool residual = false;
  bool residual_in_place = false;  // the residual is the output buffer itself
  cpu::Activation activation = {};
};

// The 32 epilogues of index 0-31: bias (bit 0), residual (bit 1), four
// activations (bits 2-3), the residual in place (bit 4, with bit 1).
inline ConvEpilogue epilogue_number(int index) {
  ConvEpilogue e;
  e.bias = index & 1;
  e.residual = index & 2;
  e.residual_in_place = e.residual && (index & 16);
  switch ((index >> 2) & 3) {
    case 0:
      break;
    case 1:
      e.activation = cpu::Activation::relu(0.0f);
      break;
    case 2:
      e.activation = cpu::Activation::relu(0.1f);
      break;
    case 3:
      e.activation = cpu::Activation::clipped(-0.25f, 0.5f);
      break;
  }
  return e;
}

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Whether the CPU kernels of this build may have products fused into
// multiply-adds (-march with FMA, e.g. PREDICTOR_NATIVE=ON, lets GCC contract
// them in C++). The CUDA kernels never fuse; then "bitwise" comparisons with
// the CPU allow a few ulp instead.
#ifdef __FMA__
constexpr bool kCpuMayFuse = true;
#else
constexpr bool kCpuMayFuse = false;
#endif

// Device memory for `count` floats (or bytes, through bytes()), freed on
// destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t count) { allocate_bytes(count * sizeof(float)); }
  static DeviceBuffer bytes(std::size_t n) {
    DeviceBuffer buffer;
    buffer.allocate_bytes(n);
    return buffer;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept : ptr_(other.ptr_), bytes_(other.bytes_) {
    other.ptr_ = nullptr;
    other.bytes_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(ptr_, other.ptr_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }

  float* get() const { return static_cast<float*>(ptr_); }
  void* raw() const { return ptr_; }
  std::size_t count() const { return bytes_ / sizeof(float); }
  bool ok() const { return ptr_ != nullptr || bytes_ == 0; }

 private:
  void allocate_bytes(std::size_t n) {
    bytes_ = n;
    // At least one byte, so that empty buffers still have a distinct address.
    if (cudaMalloc(&ptr_, n == 0 ? 1 : n) != cudaSuccess) {
      cudaGetLastError();
      ptr_ = nullptr;
      ADD_FAILURE() << "cudaMalloc of " << n << " bytes failed";
    }
  }
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// The fixture: skips without a device; a non-blocking stream per test.
class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (the GPU kernel tests need one)";
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess);
  }
  void TearDown() override {
    if (stream_ != nullptr) {
      EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess) << "a kernel of this test failed on the device";
      cudaStreamDestroy(stream_);
    }
  }

  // A device copy of `values`.
  DeviceBuffer upload(const std::vector<float>& values) {
    DeviceBuffer buffer(values.size());
    if (!values.empty()) {
      EXPECT_EQ(
          cudaMemcpyAsync(buffer.get(), values.data(), values.size() * sizeof(float), cudaMemcpyHostToDevice, stream_),
          cudaSuccess);
    }
    return buffer;
  }

  // A buffer of `count` floats, every byte 0xFF (a NaN): an element a kernel
  // forgets to write stays NaN and fails the comparison.
  DeviceBuffer poisoned(std::size_t count) {
    DeviceBuffer buffer(count);
    EXPECT_EQ(cudaMemsetAsync(buffer.get(), 0xFF, count * sizeof(float), stream_), cudaSuccess);
    return buffer;
  }

  // Waits for the stream (the kernels never do) and copies `count` floats
  // back (all of the buffer by default).
  std::vector<float> download(const DeviceBuffer& buffer, std::size_t count = SIZE_MAX, std::size_t offset = 0) {
    if (count == SIZE_MAX) count = buffer.count() - offset;
    std::vector<float> values(count);
    EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess) << "a kernel failed on the device";
    if (count > 0) {
      EXPECT_EQ(cudaMemcpy(values.data(), buffer.get() + offset, count * sizeof(float), cudaMemcpyDeviceToHost),
                cudaSuccess);
    }
    return values;
  }

  cudaStream_t stream_ = nullptr;
};

inline std::uint32_t bits_of(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

// "0x3f800000" for 1.0f.
inline std::string hex_bits(float x) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(bits_of(x)));
  return text;
}

// Identical floats: the same bits, except that any NaN equals any NaN (the
// CPU's default NaN and the GPU's differ in sign and payload). With
// kCpuMayFuse, within 4 ulp-ish (8 * epsilon relative) instead.
inline bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (kCpuMayFuse) return a == b || std::fabs(a - b) <= 8 * std::numeric_limits<float>::epsilon() * std::fabs(b);
  return bits_of(a) == bits_of(b);
}

// actual equals expected element by element (same_float); reports the first
// few differences.
inline ::testing::AssertionResult bitwise_equal(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << actual.size() << " vs " << expected.size();
  }
  int shown = 0;
  std::size_t bad = 0;
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (same_float(actual[i], expected[i])) continue;
    ++bad;
    if (shown++ < 5) {
      failure << "\n  [" << i << "] actual " << actual[i] << " (" << hex_bits(actual[i]) << ") expected "
              << expected[i] << " (" << hex_bits(expected[i]) << ")";
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return failure << "\n  " << bad << " of " << actual.size() << " differ";
}

// |actual - expected| <= abs_tol + rel_tol * |expected| element by element;
// NaN must meet NaN, infinities the same infinity.
inline ::testing::AssertionResult near_equal(const std::vector<float>& actual, const std::vector<double>& expected,
                                             double rel_tol, double abs_tol = 1e-38) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << actual.size() << " vs " << expected.size();
  }
  int shown = 0;
  std::size_t bad = 0;
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    bool ok;
    if (std::isnan(e)) {
      ok = std::isnan(a);
    } else if (std::isinf(e) || std::fabs(e) >= 3.4028235677973366e38) {
      ok = std::isinf(a) && (a > 0) == (e > 0);
    } else {
      ok = std::isfinite(a) && std::fabs(a - e) <= abs_tol + rel_tol * std::fabs(e);
    }
    if (ok) continue;
    ++bad;
    if (shown++ < 5) failure << "\n  [" << i << "] actual " << actual[i] << " expected " << e;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return failure << "\n  " << bad << " of " << actual.size() << " outside tolerance";
}

inline ::testing::AssertionResult near_equal(const std::vector<float>& actual, const std::vector<float>& expected,
                                             double rel_tol, double abs_tol = 1e-38) {
  return near_equal(actual, std::vector<double>(expected.begin(), expected.end()), rel_tol, abs_tol);
}

// Random values in [lo, hi) with every `stride`-th one replaced by the next
// of `specials` in turn.
inline std::vector<float> with_specials(std::vector<float> values, const std::vector<float>& specials,
                                        std::size_t stride = 7) {
  std::size_t k = 0;
  for (std::size_t i = 3; i < values.size() && !specials.empty(); i += stride)
    values[i] = specials[k++ % specials.size()];
  return values;
}

}  // namespace predictor::gpu_testing
