// Activation-memory planning on real networks: plans at the lower bound,
// verified, and outputs bitwise identical to unplanned runs.
#include <gtest/gtest.h>

#include <cstring>

#include "common/test_utils.h"
#include "common/zoo_models.h"
#include "io/deploy_net.h"
#include "io/proto_io.h"
#include "memory/net_live_ranges.h"
#include "memory/plan_verifier.h"
#include "memory/planner.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

using testing::ZooModel;

LoadOptions options_with_batch(const ZooModel& zoo, const caffe::NetParameter& deploy_probe, int batch) {
  LoadOptions options = zoo.load_options();
  if (batch > 0) {
    std::unique_ptr<Net> net = Net::WithoutWeights(deploy_probe, zoo.path());
    for (std::size_t i = 0; i < net->input_blobs().size(); ++i) {
      std::vector<int> shape = net->input_blobs()[i]->shape();
      shape[0] = batch;
      options.input_shapes[net->input_names()[i]] = shape;
    }
  }
  return options;
}

class ZooMemoryTest : public ::testing::TestWithParam<ZooModel> {
 protected:
  void SetUp() override {
    if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  }
  // The deploy form: input names and shapes, and nets without weights
  // (planning needs only shapes).
  caffe::NetParameter deploy_form(const LoadOptions& options) {
    return make_deploy_net(read_net_text_file(GetParam().path()), options, GetParam().path());
  }
};

// best_fit reaches the lower bound (within 2%) at batch 1 and at the file's
// batch, linear_scan is never better, and both plans verify.
TEST_P(ZooMemoryTest, BestFitPlanIsAtTheLowerBound) {
  const ZooModel& zoo = GetParam();
  LoadOptions file_batch = zoo.load_options();
  const caffe::NetParameter deploy = deploy_form(file_batch);
  for (int batch : {1, 0}) {  // 0: the batch in the file
    const caffe::NetParameter at_batch = deploy_form(options_with_batch(zoo, deploy, batch));
    std::size_t planned[2] = {};
    const char* strategies[2] = {"best_fit", "linear_scan"};
    for (int s = 0; s < 2; ++s) {
      std::unique_ptr<Net> owner = Net::WithoutWeights(at_batch, zoo.path());
      Net& net = *owner;
      net.EnableMemoryPlanning(strategies[s]);
      net.Reshape();
      const MemoryStats* stats = net.memory_stats();
      ASSERT_NE(stats, nullptr);
      planned[s] = stats->planned_bytes;
      EXPECT_LE(stats->lower_bound_bytes, stats->planned_bytes);
      EXPECT_LE(stats->planned_bytes, stats->naive_bytes);
      if (s == 0) {
        EXPECT_LE(static_cast<double>(stats->planned_bytes), 1.02 * stats->lower_bound_bytes)
            << zoo.label() << " batch " << batch;
        EXPECT_EQ(stats->num_buffers, 1);
      }
      // Independently of the Net's own check, the plan of the net's requests
      // verifies.
      const auto requests = memory::collect_net_requests(net, {});
      auto planner = memory::make_planner(strategies[s]);
      for (const auto& range : requests.ranges) planner->add(range.bytes, range.first_use, range.last_use, range.name);
      EXPECT_NO_THROW(memory::verify_plan(planner->requests(), planner->plan()));
    }
    EXPECT_LE(planned[0], planned[1]) << zoo.label();
  }
}

void fill_inputs(Net& net, std::uint32_t seed) {
  for (Blob* input : net.input_blobs()) {
    const auto values = testing::random_values(input->count(), seed++);
    std::memcpy(input->mutable_cpu_data(), values.data(), values.size() * sizeof(float));
  }
}

std::vector<std::vector<float>> outputs_of(const Net& net) {
  std::vector<std::vector<float>> outputs;
  for (const Blob* blob : net.output_blobs()) outputs.push_back(testing::to_vector(*blob));
  return outputs;
}

// With planning, outputs are bitwise identical to unplanned runs, at two
// batch sizes, including after a reshape back and forth (cached plans).
TEST_P(ZooMemoryTest, PlannedOutputsAreBitwiseIdentical) {
  const ZooModel& zoo = GetParam();
  LoadOptions options = zoo.load_options();
  const caffe::NetParameter deploy = deploy_form(options);
  auto model = Model::WithRandomWeightsFromFile(zoo.path(), 7, options_with_batch(zoo, deploy, 1));
  Net plain(model), planned(model);
  planned.EnableMemoryPlanning("best_fit");
  for (int batch : {1, 2, 1}) {
    for (Net* net : {&plain, &planned}) {
      for (Blob* input : net->input_blobs()) {
        std::vector<int> shape = input->shape();
        shape[0] = batch;
        input->Reshape(shape);
      }
      fill_inputs(*net, 40 + batch);
      net->Forward();
    }
    EXPECT_TRUE(outputs_of(plain) == outputs_of(planned)) << zoo.label() << " batch " << batch;
    EXPECT_LT(planned.memory_stats()->planned_bytes, planned.memory_stats()->naive_bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooMemoryTest, ::testing::ValuesIn(testing::all_zoo_models()),
                         [](const auto& info) { return info.param.label(); });

TEST(NetMemory, KeptBlobsAreNeverOverwritten) {
  const auto net_param = parse_net_text(R"(
    input: "data" input_shape { dim: 1 dim: 8 }
    layer { name: "a" type: "InnerProduct" bottom: "data" top: "a" inner_product_param { num_output: 8 } }
    layer { name: "b" type: "InnerProduct" bottom: "a" top: "b" inner_product_param { num_output: 8 } }
    layer { name: "c" type: "InnerProduct" bottom: "b" top: "c" inner_product_param { num_output: 8 } }
    layer { name: "d" type: "InnerProduct" bottom: "c" top: "d" inner_product_param { num_output: 8 } })",
                                        "chain");
  auto model = Model::WithRandomWeights(net_param, 3);
  Net plain(model);
  fill_inputs(plain, 1);
  plain.Forward();
  const auto a = testing::to_vector(*plain.blob("a"));

  Net planned(model);
  planned.EnableMemoryPlanning("best_fit", {"a"});
  fill_inputs(planned, 1);
  planned.Forward();
  EXPECT_EQ(testing::to_vector(*planned.blob("a")), a) << "a kept blob must survive the forward";
  // Without keeping it, "a" shares storage with "c" (a chain needs two slots).
  Net shared(model);
  shared.EnableMemoryPlanning("best_fit");
  shared.Reshape();
  EXPECT_EQ(shared.blob("a")->cpu_data(), shared.blob("c")->cpu_data());
  EXPECT_THROW(Net(model).EnableMemoryPlanning("best_fit", {"nope"}), Error);
  EXPECT_THROW(Net(model).EnableMemoryPlanning("no_such_strategy"), Error);
}

TEST(NetMemory, InputsAreNotPlanned) {
  const auto net_param = parse_net_text(R"(
    input: "data" input_shape { dim: 2 dim: 3 }
    layer { name: "flat" type: "Flatten" bottom: "data" top: "flat" }
    layer { name: "fc" type: "InnerProduct" bottom: "flat" top: "fc" inner_product_param { num_output: 3 } })",
                                        "inputs");
  Net net(Model::WithRandomWeights(net_param, 3));
  net.EnableMemoryPlanning("best_fit");
  std::vector<float> caller(6, 1.0f);
  net.input_blobs()[0]->set_cpu_data(caller.data());
  net.Forward();
  const auto requests = memory::collect_net_requests(net, {});
  for (const auto& range : requests.ranges) {
    EXPECT_NE(range.name, "data");
    EXPECT_NE(range.name, "flat") << "a view of an input is the caller's memory";
  }
  EXPECT_EQ(caller, std::vector<float>(6, 1.0f));
}

}  // namespace
}  // namespace predictor
