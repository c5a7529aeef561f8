// Copy elision (Net::EnableCopyElision): which Concat and Slice layers are
// skipped, and that every blob keeps the value it has without elision, with
// and without memory planning, across batch sizes that turn it on and off.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

caffe::NetParameter parse(const std::string& text) { return parse_net_text(text, "net.prototxt"); }

// Two 3x3 branches joined, then a 1x1 conv on the join.
const char* const kInception = R"(
  input: "data" input_shape { dim: 1 dim: 3 dim: 7 dim: 6 }
  layer { name: "a" type: "Convolution" bottom: "data" top: "a"
          convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
  layer { name: "a_relu" type: "ReLU" bottom: "a" top: "a" }
  layer { name: "b" type: "Convolution" bottom: "data" top: "b"
          convolution_param { num_output: 5 kernel_size: 1 } }
  layer { name: "join" type: "Concat" bottom: "a" bottom: "b" top: "join" }
  layer { name: "out" type: "Convolution" bottom: "join" top: "out"
          convolution_param { num_output: 2 kernel_size: 1 } })";

// DenseNet's pattern: each block's concat feeds the next block's concat
// and a conv; the elided concats nest.
const char* const kDense = R"(
  input: "data" input_shape { dim: 1 dim: 3 dim: 5 dim: 5 }
  layer { name: "stem" type: "Convolution" bottom: "data" top: "c0"
          convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
  layer { name: "g1" type: "Convolution" bottom: "c0" top: "g1"
          convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }
  layer { name: "cat1" type: "Concat" bottom: "c0" bottom: "g1" top: "c1" }
  layer { name: "bn1" type: "ReLU" bottom: "c1" top: "r1" }
  layer { name: "g2" type: "Convolution" bottom: "r1" top: "g2"
          convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }
  layer { name: "cat2" type: "Concat" bottom: "c1" bottom: "g2" top: "c2" }
  layer { name: "g3" type: "Convolution" bottom: "c2" top: "g3"
          convolution_param { num_output: 2 kernel_size: 1 } }
  layer { name: "cat3" type: "Concat" bottom: "c2" bottom: "g3" top: "c3" }
  layer { name: "pool" type: "Pooling" bottom: "c3" top: "pool"
          pooling_param { pool: AVE global_pooling: true } })";

// A wide conv sliced into three branches.
const char* const kSliced = R"(
  input: "data" input_shape { dim: 1 dim: 3 dim: 6 dim: 6 }
  layer { name: "wide" type: "Convolution" bottom: "data" top: "wide"
          convolution_param { num_output: 9 kernel_size: 1 } }
  layer { name: "split" type: "Slice" bottom: "wide" top: "s0" top: "s1" top: "s2"
          slice_param { slice_point: 2 slice_point: 6 } }
  layer { name: "x" type: "Convolution" bottom: "s1" top: "x"
          convolution_param { num_output: 2 kernel_size: 3 pad: 1 } }
  layer { name: "y" type: "Pooling" bottom: "s2" top: "y" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
  layer { name: "z" type: "Pooling" bottom: "s0" top: "z" pooling_param { pool: MAX kernel_size: 2 stride: 2 } })";

int layer_index(const Net& net, const std::string& name) {
  for (int i = 0; i < net.num_layers(); ++i) {
    if (net.layer(i).name() == name) return i;
  }
  ADD_FAILURE() << "no layer " << name;
  return 0;
}

std::vector<float> values_of(const Blob& blob) { return {blob.cpu_data(), blob.cpu_data() + blob.count()}; }

// A net made by `configure`, run once at batch `batch`, and every named
// blob's value after that forward.
struct NetRun {
  std::unique_ptr<Net> net;
  std::map<std::string, std::vector<float>> values;
};

template <typename Configure>
NetRun run_all(const std::shared_ptr<const Model>& model, int batch, Configure configure) {
  NetRun run{std::make_unique<Net>(model), {}};
  configure(run.net.get());
  Blob* input = run.net->input_blobs()[0];
  std::vector<int> shape = input->shape();
  shape[0] = batch;
  input->Reshape(shape);
  const std::vector<float> data = testing::random_values(input->count(), 17);
  std::copy(data.begin(), data.end(), input->mutable_cpu_data());
  run.net->Forward();
  for (const std::string& name : run.net->blob_names()) run.values[name] = values_of(*run.net->blob(name));
  return run;
}

// Every blob bitwise equal (without planning every blob keeps its value).
void expect_same_values(const NetRun& expected_run, const NetRun& actual_run) {
  const auto& expected = expected_run.values;
  const auto& actual = actual_run.values;
  ASSERT_EQ(expected.size(), actual.size());
  for (const auto& [name, values] : expected) {
    const std::vector<float>& got = actual.at(name);
    ASSERT_EQ(values.size(), got.size()) << name;
    EXPECT_EQ(0, std::memcmp(values.data(), got.data(), values.size() * sizeof(float))) << "blob " << name;
  }
}

// With planning only the outputs keep their values.
void expect_same_outputs(const NetRun& expected, const NetRun& actual) {
  ASSERT_EQ(expected.net->output_names(), actual.net->output_names());
  for (const std::string& name : expected.net->output_names()) {
    EXPECT_EQ(expected.values.at(name), actual.values.at(name)) << "output " << name;
  }
}

const auto kPlain = [](Net*) {};
const auto kElide = [](Net* net) { net->EnableCopyElision(true); };

TEST(CopyElision, ConcatPartsAreWrittenInPlaceAndKeepTheirValues) {
  auto model = Model::WithRandomWeights(parse(kInception), 3);
  const auto expected = run_all(model, 1, kPlain);
  const NetRun elided = run_all(model, 1, kElide);
  const Net* net = elided.net.get();
  expect_same_values(expected, elided);
  EXPECT_TRUE(net->copy_elided(layer_index(*net, "join")));
  ASSERT_EQ(net->storage_aliases().size(), 2u);
  // The parts are the join's own memory, at their offsets.
  const float* join = net->blob("join")->cpu_data();
  EXPECT_EQ(net->blob("a")->cpu_data(), join);
  EXPECT_EQ(net->blob("b")->cpu_data(), join + net->blob("a")->count());
}

TEST(CopyElision, BatchOfTwoCopiesAndGoingBackElidesAgain) {
  auto model = Model::WithRandomWeights(parse(kInception), 3);
  std::unique_ptr<Net> plain = std::make_unique<Net>(model);
  Net elided(model);
  elided.EnableCopyElision(true);
  for (int batch : {1, 2, 1, 3, 1}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    for (Net* net : {plain.get(), &elided}) {
      net->input_blobs()[0]->Reshape({batch, 3, 7, 6});
      const std::vector<float> data = testing::random_values(net->input_blobs()[0]->count(), batch);
      std::copy(data.begin(), data.end(), net->input_blobs()[0]->mutable_cpu_data());
      net->Forward();
    }
    EXPECT_EQ(elided.copy_elided(layer_index(elided, "join")), batch == 1);
    for (const char* name : {"a", "b", "join", "out"}) {
      EXPECT_EQ(values_of(*plain->blob(name)), values_of(*elided.blob(name))) << name;
    }
    // Parts given back their own storage do not overlap the join.
    if (batch != 1) {
      EXPECT_NE(elided.blob("b")->cpu_data(), elided.blob("join")->cpu_data() + 4 * 7 * 6 * batch);
    }
  }
}

TEST(CopyElision, WithMemoryPlanningTheWholeTakesThePartsLifetimes) {
  auto model = Model::WithRandomWeights(parse(kDense), 5);
  const auto expected = run_all(model, 1, kPlain);
  const auto planned = [](Net* net) { net->EnableMemoryPlanning("", {"c0", "g1", "c1", "r1", "g2", "c2", "g3"}); };
  const auto planned_elided = [&](Net* net) {
    planned(net);
    net->EnableCopyElision(true);
  };
  const NetRun run = run_all(model, 1, planned_elided);
  const Net* net = run.net.get();
  const auto& actual = run.values;
  for (const char* name : {"c0", "g1", "c1", "r1", "g2", "c2", "g3", "c3", "pool"}) {
    EXPECT_EQ(expected.values.at(name), actual.at(name)) << name;
  }
  for (const char* cat : {"cat1", "cat2", "cat3"}) EXPECT_TRUE(net->copy_elided(layer_index(*net, cat))) << cat;
  // Nested: c0, g1, c1, g2, c2 and g3 all resolve to the outermost c3.
  for (const Net::StorageAlias& alias : net->storage_aliases()) EXPECT_EQ(alias.root, net->blob("c3"));
  EXPECT_EQ(net->storage_aliases().size(), 6u);
  EXPECT_EQ(net->blob("g3")->cpu_data(), net->blob("c3")->cpu_data() + net->blob("c2")->count());

  // The whole is one request holding its parts: fewer requests than blobs.
  const NetRun plain_planned = run_all(model, 1, [&](Net* n) { n->EnableMemoryPlanning(""); });
  EXPECT_LT(net->memory_stats()->num_requests, plain_planned.net->memory_stats()->num_requests);
}

TEST(CopyElision, DenseChainMatchesWithoutPlanningAtEveryBatch) {
  auto model = Model::WithRandomWeights(parse(kDense), 5);
  for (int batch : {1, 2}) {
    expect_same_values(run_all(model, batch, kPlain), run_all(model, batch, kElide));
    expect_same_outputs(run_all(model, batch, [](Net* n) { n->EnableMemoryPlanning(""); }),
                       run_all(model, batch, [](Net* n) {
                         n->EnableMemoryPlanning("");
                         n->EnableCopyElision(true);
                       }));
  }
}

TEST(CopyElision, SliceTopsAreViewsOfTheirBottom) {
  auto model = Model::WithRandomWeights(parse(kSliced), 9);
  const auto expected = run_all(model, 1, kPlain);
  const NetRun elided = run_all(model, 1, kElide);
  const Net* net = elided.net.get();
  expect_same_values(expected, elided);
  EXPECT_TRUE(net->copy_elided(layer_index(*net, "split")));
  EXPECT_EQ(net->blob("s1")->cpu_data(), net->blob("wide")->cpu_data() + 2 * 36);
  EXPECT_EQ(net->blob("s2")->cpu_data(), net->blob("wide")->cpu_data() + 6 * 36);
  expect_same_values(run_all(model, 2, kPlain), run_all(model, 2, kElide));
}

// Each case: a net where elision would change a value, or cannot place a
// part; the layer must run, and every blob match the plain net.
struct DeclineCase {
  const char* name;
  const char* net;
  const char* layer;
};

const DeclineCase kDeclines[] = {
    {"a part is the caller's input", R"(
      input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
      layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "join" type: "Concat" bottom: "data" bottom: "a" top: "join" }
      layer { name: "out" type: "Convolution" bottom: "join" top: "out" convolution_param { num_output: 2 kernel_size: 1 } })",
     "join"},
    {"a part written in place after the concat", R"(
      input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
      layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "b" type: "Convolution" bottom: "data" top: "b" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "join" type: "Concat" bottom: "a" bottom: "b" top: "join" }
      layer { name: "late" type: "ReLU" bottom: "a" top: "a" }
      layer { name: "out" type: "Eltwise" bottom: "join" bottom: "join" top: "out" }
      layer { name: "out2" type: "Convolution" bottom: "a" top: "out2" convolution_param { num_output: 2 kernel_size: 1 } })",
     "join"},
    {"the whole written in place after the concat", R"(
      input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
      layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "b" type: "Convolution" bottom: "data" top: "b" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "join" type: "Concat" bottom: "a" bottom: "b" top: "join" }
      layer { name: "act" type: "ReLU" bottom: "join" top: "join" }
      layer { name: "out" type: "Eltwise" bottom: "a" bottom: "b" top: "out" }
      layer { name: "out2" type: "Convolution" bottom: "join" top: "out2" convolution_param { num_output: 2 kernel_size: 1 } })",
     "join"},
    {"the same blob twice", R"(
      input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
      layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "join" type: "Concat" bottom: "a" bottom: "a" top: "join" }
      layer { name: "out" type: "Convolution" bottom: "join" top: "out" convolution_param { num_output: 2 kernel_size: 1 } })",
     "join"},
    {"a part that is a view", R"(
      input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
      layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "fa" type: "Flatten" bottom: "a" top: "fa" }
      layer { name: "b" type: "InnerProduct" bottom: "data" top: "b" inner_product_param { num_output: 3 } }
      layer { name: "join" type: "Concat" bottom: "fa" bottom: "b" top: "join" }
      layer { name: "out" type: "InnerProduct" bottom: "join" top: "out" inner_product_param { num_output: 2 } })",
     "join"},
    {"outer blocks along a later axis", R"(
      input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
      layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "b" type: "Convolution" bottom: "data" top: "b" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "join" type: "Concat" bottom: "a" bottom: "b" top: "join" concat_param { axis: 2 } }
      layer { name: "out" type: "Convolution" bottom: "join" top: "out" convolution_param { num_output: 2 kernel_size: 1 } })",
     "join"},
    {"a slice top written in place", R"(
      input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
      layer { name: "wide" type: "Convolution" bottom: "data" top: "wide" convolution_param { num_output: 4 kernel_size: 1 } }
      layer { name: "split" type: "Slice" bottom: "wide" top: "s0" top: "s1" }
      layer { name: "act" type: "ReLU" bottom: "s0" top: "s0" }
      layer { name: "out" type: "Eltwise" bottom: "s0" bottom: "s1" top: "out" })",
     "split"},
    {"a slice of the caller's input", R"(
      input: "data" input_shape { dim: 1 dim: 4 dim: 3 dim: 3 }
      layer { name: "split" type: "Slice" bottom: "data" top: "s0" top: "s1" }
      layer { name: "out" type: "Eltwise" bottom: "s0" bottom: "s1" top: "out" })",
     "split"},
};

TEST(CopyElision, DeclinesWhereAPartCannotBePlaced) {
  for (const DeclineCase& c : kDeclines) {
    SCOPED_TRACE(c.name);
    auto model = Model::WithRandomWeights(parse(c.net), 11);
    const auto expected = run_all(model, 1, kPlain);
    const NetRun elided = run_all(model, 1, kElide);
    const Net* net = elided.net.get();
    expect_same_values(expected, elided);
    EXPECT_FALSE(net->copy_elided(layer_index(*net, c.layer)));
    expect_same_outputs(run_all(model, 1, [](Net* n) { n->EnableMemoryPlanning(""); }),
                       run_all(model, 1, [](Net* n) {
                         n->EnableMemoryPlanning("");
                         n->EnableCopyElision(true);
                       }));
  }
}

TEST(CopyElision, ABlobInTwoConcatsIsPlacedInTheFirstOnly) {
  auto model = Model::WithRandomWeights(parse(R"(
      input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
      layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "b" type: "Convolution" bottom: "data" top: "b" convolution_param { num_output: 2 kernel_size: 1 } }
      layer { name: "j1" type: "Concat" bottom: "a" bottom: "b" top: "j1" }
      layer { name: "j2" type: "Concat" bottom: "b" bottom: "a" top: "j2" }
      layer { name: "out" type: "Eltwise" bottom: "j1" bottom: "j2" top: "out" })"),
                                           13);
  const NetRun elided = run_all(model, 1, kElide);
  const Net* net = elided.net.get();
  expect_same_values(run_all(model, 1, kPlain), elided);
  EXPECT_TRUE(net->copy_elided(layer_index(*net, "j1")));
  EXPECT_FALSE(net->copy_elided(layer_index(*net, "j2")));
}

TEST(CopyElision, OffUnlessEnabled) {
  auto model = Model::WithRandomWeights(parse(kInception), 3);
  const NetRun plain = run_all(model, 1, kPlain);
  const Net* net = plain.net.get();
  EXPECT_FALSE(net->copy_elided(layer_index(*net, "join")));
  EXPECT_TRUE(net->storage_aliases().empty());
}

}  // namespace
}  // namespace predictor
