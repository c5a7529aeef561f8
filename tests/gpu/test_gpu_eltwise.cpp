// CUDA eltwise kernels against the CPU kernels (bit for bit: the same
// roundings in the same order) and against plain loops written from Caffe's
// EltwiseLayer, with NaNs and infinities among the inputs, input counts on
// both sides of the 16 inputs one launch takes, and out == in[0].
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/eltwise.h"
#include "kernels/cuda/eltwise.h"

namespace predictor {
namespace {

using namespace gpu_testing;

enum class Op { kProd, kSum, kMax };

class GpuEltwise : public GpuTest {
 protected:
  void check(Op op, int num_inputs, std::size_t count, bool in_place) {
    SCOPED_TRACE("op " + std::to_string(static_cast<int>(op)) + " inputs " + std::to_string(num_inputs) + " count " +
                 std::to_string(count) + (in_place ? " in place" : ""));
    std::vector<std::vector<float>> host;
    std::vector<DeviceBuffer> device;
    std::vector<const float*> host_ptrs, device_ptrs;
    for (int k = 0; k < num_inputs; ++k) {
      // Products of many inputs stay finite near 1; NaN and infinities here
      // and there (not on every input, so that most outputs stay finite).
      const float lo = op == Op::kProd ? 0.5f : -3.0f, hi = op == Op::kProd ? 1.5f : 3.0f;
      auto values = random_values(count, 100 + k * 7 + static_cast<std::uint32_t>(count), lo, hi);
      if (k % 3 == 1) values = with_specials(values, {kNaN, kInf, -kInf, -0.0f, 0.0f}, 97 + k);
      if (op == Op::kMax && k == 2 && count > 10) {
        values[5] = host[0][5];  // ties: the running maximum stays
        values[6] = host[1][6];
      }
      host.push_back(values);
      device.push_back(upload(values));
    }
    for (int k = 0; k < num_inputs; ++k) {
      host_ptrs.push_back(host[k].data());
      device_ptrs.push_back(device[k].get());
    }
    std::vector<float> coeff = random_values(num_inputs, 77, -2.0f, 2.0f);
    coeff[0] = 1.0f;

    DeviceBuffer out = poisoned(count);
    float* d_out = in_place ? device[0].get() : out.get();
    switch (op) {
      case Op::kProd:
        cuda::eltwise_prod(count, device_ptrs.data(), num_inputs, d_out, stream_);
        break;
      case Op::kSum:
        cuda::eltwise_sum(count, device_ptrs.data(), coeff.data(), num_inputs, d_out, stream_);
        break;
      case Op::kMax:
        cuda::eltwise_max(count, device_ptrs.data(), num_inputs, d_out, stream_);
        break;
    }
    const std::vector<float> got = download(in_place ? device[0] : out);

    std::vector<float> cpu_out(count);
    switch (op) {
      case Op::kProd:
        cpu::eltwise_prod(count, host_ptrs.data(), num_inputs, cpu_out.data());
        break;
      case Op::kSum:
        cpu::eltwise_sum(count, host_ptrs.data(), coeff.data(), num_inputs, cpu_out.data());
        break;
      case Op::kMax:
        cpu::eltwise_max(count, host_ptrs.data(), num_inputs, cpu_out.data());
        break;
    }
    EXPECT_TRUE(bitwise_equal(got, cpu_out)) << "GPU vs CPU kernel";

    // The CPU header's definition, in float: SUM c0 * x0 + c1 * x1, then
    // + c * x per input (each product rounded); PROD the first two, then one
    // product per input (Caffe's caffe_mul chain); MAX the first pair's >,
    // then strictly greater (Caffe's loop).
    std::vector<float> expected(count);
    for (std::size_t i = 0; i < count; ++i) {
      float acc;
      if (op == Op::kProd) {
        acc = host[0][i] * host[1][i];
        for (int k = 2; k < num_inputs; ++k) acc *= host[k][i];
      } else if (op == Op::kSum) {
        const float p0 = coeff[0] * host[0][i];
        const float p1 = coeff[1] * host[1][i];
        acc = p0 + p1;
        for (int k = 2; k < num_inputs; ++k) {
          const float p = coeff[k] * host[k][i];
          acc += p;
        }
      } else {
        acc = host[0][i] > host[1][i] ? host[0][i] : host[1][i];
        for (int k = 2; k < num_inputs; ++k) {
          if (host[k][i] > acc) acc = host[k][i];
        }
      }
      expected[i] = acc;
    }
    EXPECT_TRUE(bitwise_equal(got, expected)) << "GPU vs plain loops";
  }
};

TEST_F(GpuEltwise, Prod) {
  for (int inputs : {2, 3, 16, 17, 35}) check(Op::kProd, inputs, 1001, false);
  check(Op::kProd, 2, 2097152 + 513, false);
  check(Op::kProd, 3, 777, true);
  check(Op::kProd, 20, 777, true);
}

TEST_F(GpuEltwise, Sum) {
  for (int inputs : {2, 3, 16, 17, 35}) check(Op::kSum, inputs, 1001, false);
  check(Op::kSum, 4, 2097152 + 513, false);
  check(Op::kSum, 2, 777, true);
  check(Op::kSum, 18, 777, true);
}

TEST_F(GpuEltwise, Max) {
  for (int inputs : {2, 3, 16, 17, 35}) check(Op::kMax, inputs, 1001, false);
  check(Op::kMax, 3, 2097152 + 513, false);
  check(Op::kMax, 5, 777, true);
}

TEST_F(GpuEltwise, MaxNaNOrder) {
  // Which operand a NaN comes from: NaN > x and x > NaN are both false.
  const std::vector<float> a{kNaN, 1.0f, kNaN, 2.0f}, b{1.0f, kNaN, kNaN, 2.0f}, c{0.0f, 5.0f, 3.0f, -0.0f};
  DeviceBuffer da = upload(a), db = upload(b), dc = upload(c), out = poisoned(4);
  const float* ptrs[] = {da.get(), db.get(), dc.get()};
  cuda::eltwise_max(4, ptrs, 3, out.get(), stream_);
  const auto got = download(out);
  EXPECT_EQ(got[0], 1.0f);          // NaN > 1 is false: b's 1; then 0 > 1 is false
  EXPECT_TRUE(std::isnan(got[1]));  // 1 > NaN is false: b's NaN; then 5 > NaN is false
  EXPECT_TRUE(std::isnan(got[2]));
  EXPECT_EQ(bits_of(got[3]), bits_of(2.0f));  // ties keep the running maximum
}

TEST_F(GpuEltwise, FewerThanTwoInputsIsAnError) {
  DeviceBuffer a = upload({1.0f});
  const float* ptrs[] = {a.get()};
  EXPECT_THROW(cuda::eltwise_prod(1, ptrs, 1, a.get(), stream_), Error);
}

}  // namespace
}  // namespace predictor
