// Net wiring, shape propagation, outputs and weight binding, with small test
// layers registered here so that these tests depend on no real kernel (but
// for the readers' thread split, which belongs to the real layer types).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "predictor/CaffeProto.h"
#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"
#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

using testing::error_of;

// y = x + w, with one learned scalar w; in-place capable.
class AddWeightLayer : public Layer {
 public:
  using Layer::Layer;
  bool allows_in_place() const override { return true; }
  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>&) const override { return {{1}}; }
  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    top[0]->ReshapeLike(*bottom[0]);
  }
  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext&) override {
    const float w = weight_data(0)[0];
    const float* in = bottom[0]->cpu_data();
    float* out = top[0]->mutable_cpu_data();
    for (std::size_t i = 0; i < bottom[0]->count(); ++i) out[i] = in[i] + w;
  }
};

// A view: same storage as the bottom, flattened to 2-D.
class TestViewLayer : public Layer {
 public:
  using Layer::Layer;
  int top_shares_bottom(int) const override { return 0; }
  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    top[0]->Reshape({bottom[0]->shape(0), static_cast<int>(bottom[0]->count(1))});
  }
  void forward_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}
};

// y = x + 2w, where 2w is kernel-ready form 1 of its weight, derived once
// per model when a replica first plans the layer; counts derivations, and
// throws from the derivation while `fail_derivation` is set.
class DerivedWeightLayer : public AddWeightLayer {
 public:
  using AddWeightLayer::AddWeightLayer;
  static inline std::atomic<int> derivations{0};
  static inline std::atomic<bool> fail_derivation{false};
  std::shared_ptr<const Blob> derive_cpu_kernel_weight(int form) const override {
    if (form != 1) return nullptr;
    ++derivations;
    if (fail_derivation) fail("", "derivation failed");
    auto doubled = std::make_shared<Blob>(std::vector<int>{1});
    doubled->mutable_cpu_data()[0] = 2 * weight_data(0)[0];
    return doubled;
  }
  std::size_t prepare_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    doubled_ = cpu_kernel_weight(1);
    return 0;
  }
  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext&) override {
    const float w = doubled_ ? doubled_->cpu_data()[0] : 2 * weight_data(0)[0];
    for (std::size_t i = 0; i < bottom[0]->count(); ++i) top[0]->mutable_cpu_data()[i] = bottom[0]->cpu_data()[i] + w;
  }
  std::shared_ptr<const Blob> doubled_;
};

// A layer whose reshape forgets its top.
class NoShapeLayer : public Layer {
 public:
  using Layer::Layer;
  void reshape(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {}
  void forward_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}
};

// Throws std::runtime_error (not predictor::Error) from the step its name
// says: "reshape", "prepare" or "forward".
class ThrowingLayer : public Layer {
 public:
  using Layer::Layer;
  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    if (name() == "reshape") throw std::runtime_error("boom");
    top[0]->ReshapeLike(*bottom[0]);
  }
  std::size_t prepare_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    if (name() == "prepare") throw std::runtime_error("boom");
    return 0;
  }
  void forward_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {
    if (name() == "forward") throw std::runtime_error("boom");
  }
};

void register_test_layers() {
  static const bool registered = [] {
    LayerRegistry::global().add("TestThrows", [](const caffe::LayerParameter& p) {
      return std::make_unique<ThrowingLayer>(p);
    });
    LayerRegistry::global().add("TestFactoryThrows", [](const caffe::LayerParameter&) -> std::unique_ptr<Layer> {
      throw std::runtime_error("no layer today");
    });
    LayerRegistry::global().add("TestNoShape", [](const caffe::LayerParameter& p) {
      return std::make_unique<NoShapeLayer>(p);
    });
    LayerRegistry::global().add("TestDerivedWeight", [](const caffe::LayerParameter& p) {
      return std::make_unique<DerivedWeightLayer>(p);
    });
    LayerRegistry::global().add("TestAddWeight", [](const caffe::LayerParameter& p) {
      return std::make_unique<AddWeightLayer>(p);
    });
    LayerRegistry::global().add("TestView", [](const caffe::LayerParameter& p) {
      return std::make_unique<TestViewLayer>(p);
    });
    return true;
  }();
  (void)registered;
}

caffe::NetParameter parse(const std::string& text) { return parse_net_text(text, "net.prototxt"); }

class NetTest : public ::testing::Test {
 protected:
  void SetUp() override { register_test_layers(); }
};

constexpr const char* kChain = R"(
  name: "chain"
  input: "data" input_shape { dim: 2 dim: 3 }
  layer { name: "a" type: "TestAddWeight" bottom: "data" top: "a" }
  layer { name: "b" type: "TestAddWeight" bottom: "a" top: "a" }
  layer { name: "flat" type: "TestView" bottom: "a" top: "flat" }
  layer { name: "side" type: "TestAddWeight" bottom: "data" top: "side" })";

TEST_F(NetTest, RunsLayersInOrderWithInPlaceAndViews) {
  auto model = Model::WithRandomWeights(parse(kChain), 1);
  Net net(model);
  ASSERT_EQ(net.input_names(), std::vector<std::string>{"data"});
  EXPECT_EQ(net.output_names(), (std::vector<std::string>{"flat", "side"}));
  const float wa = model->layer_weights(1)[0]->cpu_data()[0];
  const float wb = model->layer_weights(2)[0]->cpu_data()[0];
  const float ws = model->layer_weights(4)[0]->cpu_data()[0];
  float* in = net.input_blobs()[0]->mutable_cpu_data();
  for (int i = 0; i < 6; ++i) in[i] = static_cast<float>(i);
  net.Forward();
  const Blob* flat = net.blob("flat");
  EXPECT_EQ(flat->shape(), (std::vector<int>{2, 3}));
  EXPECT_EQ(flat->cpu_data(), net.blob("a")->cpu_data()) << "a view shares storage";
  for (int i = 0; i < 6; ++i) {
    EXPECT_FLOAT_EQ(flat->cpu_data()[i], i + wa + wb);
    EXPECT_FLOAT_EQ(net.blob("side")->cpu_data()[i], i + ws);
  }
}

TEST_F(NetTest, InPlaceOnAnInputNeverWritesCallerMemory) {
  auto model = Model::WithRandomWeights(parse(R"(
    input: "data" input_shape { dim: 4 }
    layer { name: "inc" type: "TestAddWeight" bottom: "data" top: "data" })"),
                                        3);
  Net net(model);
  std::vector<float> caller = {1, 2, 3, 4};
  net.input_blobs()[0]->set_cpu_data(caller.data());
  net.Forward();
  EXPECT_EQ(caller, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(net.output_names(), std::vector<std::string>{"data"});
  EXPECT_NE(net.output_blobs()[0]->cpu_data()[0], 1.0f);
}

TEST_F(NetTest, InPlaceOnAViewOfAnInputNeverWritesCallerMemory) {
  auto model = Model::WithRandomWeights(parse(R"(
    input: "data" input_shape { dim: 2 dim: 2 }
    layer { name: "flat" type: "TestView" bottom: "data" top: "flat" }
    layer { name: "inc" type: "TestAddWeight" bottom: "flat" top: "flat" })"),
                                        3);
  Net net(model);
  std::vector<float> caller = {1, 2, 3, 4};
  net.input_blobs()[0]->set_cpu_data(caller.data());
  net.Forward();
  EXPECT_EQ(caller, (std::vector<float>{1, 2, 3, 4}));
  const float w = model->layer_weights(2)[0]->cpu_data()[0];
  EXPECT_FLOAT_EQ(net.blob("flat")->cpu_data()[3], 4 + w);
}

// Four layers in a line: with a memory plan x3 takes x1's storage.
constexpr const char* kLine = R"(
  name: "line"
  input: "data" input_shape { dim: 2 dim: 3 }
  layer { name: "l1" type: "TestAddWeight" bottom: "data" top: "x1" }
  layer { name: "l2" type: "TestAddWeight" bottom: "x1" top: "x2" }
  layer { name: "l3" type: "TestAddWeight" bottom: "x2" top: "x3" }
  layer { name: "l4" type: "TestAddWeight" bottom: "x3" top: "out" })";

// x1 and out of kLine for `data`, one addition at a time as the layers do.
std::pair<std::vector<float>, std::vector<float>> line_values(const Model& model, const std::vector<float>& data) {
  std::vector<float> x = data, x1;
  for (int layer = 1; layer <= 4; ++layer) {
    const float w = model.layer_weights(layer)[0]->cpu_data()[0];
    for (float& v : x) v = v + w;
    if (layer == 1) x1 = x;
  }
  return {x1, x};
}

TEST_F(NetTest, KeptBlobsAndValuesSurviveMemoryPlanningEnabledAgain) {
  auto model = Model::WithRandomWeights(parse(kLine), 1);
  Net net(model);
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};
  std::copy(data.begin(), data.end(), net.input_blobs()[0]->mutable_cpu_data());
  const auto [x1, out] = line_values(*model, data);
  // Kept before planning is enabled: the set applies once it is (it was
  // dropped, and x3 overwrote x1).
  net.KeepBlobs({"x1"});
  net.EnableMemoryPlanning("best_fit");
  net.Forward();
  EXPECT_EQ(testing::to_vector(*net.blob("x1")), x1);
  EXPECT_EQ(testing::to_vector(*net.blob("out")), out);
  // Enabled again: the blobs keep their values until the next Reshape (the
  // old plan's storage was freed under them), and the kept set stays.
  net.EnableMemoryPlanning("linear_scan");
  EXPECT_EQ(testing::to_vector(*net.blob("out")), out);
  EXPECT_EQ(testing::to_vector(*net.blob("x1")), x1);
  net.Forward();
  EXPECT_EQ(testing::to_vector(*net.blob("x1")), x1);
  EXPECT_EQ(testing::to_vector(*net.blob("out")), out);
}

TEST_F(NetTest, ComputeThreadsHeldAwakeAcrossSetComputeThreads) {
  auto model = Model::WithRandomWeights(parse(kLine), 1);
  Net net(model);
  std::fill_n(net.input_blobs()[0]->mutable_cpu_data(), 6, 0.5f);
  const auto expected = line_values(*model, std::vector<float>(6, 0.5f)).second;
  net.SetComputeThreads(2);
  {
    const Net::ComputeThreadsAwake awake(net);
    net.SetComputeThreads(3);  // the holder keeps the old threads until it goes (it released freed memory)
    net.Forward();
  }
  EXPECT_EQ(testing::to_vector(*net.blob("out")), expected);
  net.Forward();
  EXPECT_EQ(testing::to_vector(*net.blob("out")), expected);
}

TEST_F(NetTest, LayerIndicesOutOfRangeAndForwardLayerOutOfTurnAreErrors) {
  Net net(Model::WithRandomWeights(parse(kLine), 1));
  const int n = net.num_layers();
  EXPECT_TRUE(testing::throws_error_naming([&] { net.layer(n); }, {"layer index " + std::to_string(n), "5 layers"}));
  EXPECT_TRUE(testing::throws_error_naming([&] { net.top_blobs(-1); }, {"layer index -1"}));
  EXPECT_THROW(net.bottom_blobs(n), Error);
  EXPECT_THROW(net.bottom_names(n), Error);
  EXPECT_THROW(net.top_names(-2), Error);
  EXPECT_THROW(net.scratch_bytes(n), Error);
  EXPECT_THROW(net.layer_backend(n), Error);
  EXPECT_THROW(net.copy_elided(n), Error);
  // Before any Reshape, and after a change that may alter the plan.
  EXPECT_TRUE(testing::throws_error_naming([&] { net.ForwardLayer(1); }, {"ForwardLayer(1)", "Reshape()"}));
  net.Reshape();
  for (int i = 0; i < n; ++i) net.ForwardLayer(i);
  EXPECT_TRUE(testing::throws_error_naming([&] { net.ForwardLayer(n); }, {"layer index " + std::to_string(n)}));
  net.SetComputeThreads(2);
  EXPECT_THROW(net.ForwardLayer(1), Error);
  net.Reshape();
  net.ForwardLayer(1);
}

TEST_F(NetTest, ALayerThatLeavesItsTopUnshapedIsAnError) {
  const auto build = [] {
    Net(Model::WithRandomWeights(parse(R"(
      name: "noshape"
      input: "data" input_shape { dim: 1 dim: 2 }
      layer { name: "forgets" type: "TestNoShape" bottom: "data" top: "y" }
      layer { name: "relu" type: "ReLU" bottom: "y" top: "z" })"),
                                 1))
        .Forward();
  };
  EXPECT_TRUE(testing::throws_error_naming(build, {"forgets", "TestNoShape", "'y'", "unshaped"}));
}

TEST_F(NetTest, ACustomLayersOwnExceptionsBecomeErrorsNamingIt) {
  for (const std::string step : {"reshape", "prepare", "forward"}) {
    SCOPED_TRACE(step);
    const auto run = [&] {
      Net(Model::WithRandomWeights(parse(R"(
        input: "data" input_shape { dim: 1 dim: 2 }
        layer { name: ")" + step + R"(" type: "TestThrows" bottom: "data" top: "y" })"),
                                   1))
          .Forward();
    };
    EXPECT_TRUE(testing::throws_error_naming(run, {"'" + step + "'", "TestThrows", step + " failed: boom"}));
  }
  const auto load = [] {
    Model::WithRandomWeights(parse(R"(
      input: "data" input_shape { dim: 1 dim: 2 }
      layer { name: "made" type: "TestFactoryThrows" bottom: "data" top: "y" })"),
                             1);
  };
  EXPECT_TRUE(testing::throws_error_naming(load, {"'made'", "TestFactoryThrows", "failed: no layer today"}));
}

TEST_F(NetTest, ReshapesWhenTheInputShapeChanges) {
  Net net(Model::WithRandomWeights(parse(kChain), 1));
  net.Forward();
  net.input_blobs()[0]->Reshape({5, 3});
  net.Forward();
  EXPECT_EQ(net.blob("flat")->shape(), (std::vector<int>{5, 3}));
  EXPECT_EQ(net.blob("side")->shape(), (std::vector<int>{5, 3}));
}

TEST_F(NetTest, WiringErrorsNameTheLayerAndBlob) {
  auto build = [](const std::string& text) { Model::WithRandomWeights(parse(text), 1); };
  std::string message = error_of([&] {
    build(R"(input: "data" input_shape { dim: 1 }
             layer { name: "x" type: "TestAddWeight" bottom: "missing" top: "y" })");
  });
  EXPECT_NE(message.find("'x'"), std::string::npos) << message;
  EXPECT_NE(message.find("'missing'"), std::string::npos) << message;

  message = error_of([&] {
    build(R"(input: "data" input_shape { dim: 1 }
             layer { name: "p" type: "TestAddWeight" bottom: "data" top: "y" }
             layer { name: "q" type: "TestAddWeight" bottom: "data" top: "y" })");
  });
  EXPECT_NE(message.find("'q'"), std::string::npos) << message;
  EXPECT_NE(message.find("'p'"), std::string::npos) << message;

  message = error_of([&] {
    build(R"(input: "data" input_shape { dim: 1 dim: 1 }
             layer { name: "v" type: "TestView" bottom: "data" top: "data" })");
  });
  EXPECT_NE(message.find("in-place"), std::string::npos) << message;

  message = error_of([&] {
    build(R"(input: "data" input_shape { dim: 1 }
             layer { name: "w" type: "TestAddWeight" bottom: "data" bottom: "data" top: "y" })");
  });
  EXPECT_NE(message.find("'w'"), std::string::npos) << message;
  EXPECT_NE(message.find("bottom"), std::string::npos) << message;
}

TEST_F(NetTest, UnknownTypeListsKnownTypes) {
  const std::string message = error_of([] {
    Model::WithRandomWeights(parse(R"(input: "data" input_shape { dim: 1 }
      layer { name: "odd" type: "NoSuchLayer" bottom: "data" top: "y" })"),
                             1, {}, "net.prototxt");
  });
  EXPECT_NE(message.find("net.prototxt"), std::string::npos) << message;
  EXPECT_NE(message.find("'odd'"), std::string::npos) << message;
  EXPECT_NE(message.find("NoSuchLayer"), std::string::npos) << message;
  EXPECT_NE(message.find("Convolution"), std::string::npos) << "should list known types: " << message;
}

TEST_F(NetTest, RandomWeightsAreDeterministicPerSeed) {
  auto a = Model::WithRandomWeights(parse(kChain), 7);
  auto b = Model::WithRandomWeights(parse(kChain), 7);
  auto c = Model::WithRandomWeights(parse(kChain), 8);
  EXPECT_EQ(a->layer_weights(1)[0]->cpu_data()[0], b->layer_weights(1)[0]->cpu_data()[0]);
  EXPECT_NE(a->layer_weights(1)[0]->cpu_data()[0], c->layer_weights(1)[0]->cpu_data()[0]);
}

TEST_F(NetTest, CaffemodelRoundTripAndWeightChecks) {
  auto model = Model::WithRandomWeights(parse(kChain), 5);
  caffe::NetParameter weights;
  model->ToCaffemodel(&weights);
  auto loaded = Model::FromNetParameter(parse(kChain), weights, {}, "chain.prototxt");
  EXPECT_EQ(loaded->layer_weights(2)[0]->cpu_data()[0], model->layer_weights(2)[0]->cpu_data()[0]);
  EXPECT_EQ(loaded->weight_bytes(), 3 * sizeof(float));

  // Legacy 4-D shape (1,1,1,1) for a (1) blob loads, as in Caffe.
  caffe::NetParameter legacy = weights;
  for (auto& layer : *legacy.mutable_layer()) {
    for (auto& blob : *layer.mutable_blobs()) {
      blob.clear_shape();
      blob.set_num(1);
      blob.set_channels(1);
      blob.set_height(1);
      blob.set_width(1);
    }
  }
  EXPECT_NO_THROW(Model::FromNetParameter(parse(kChain), legacy));

  caffe::NetParameter missing = weights;
  missing.mutable_layer()->erase(missing.mutable_layer()->begin() + 2);  // layer "b"
  std::string message = error_of([&] { Model::FromNetParameter(parse(kChain), missing, {}, "m"); });
  EXPECT_NE(message.find("'b'"), std::string::npos) << message;
  EXPECT_NE(message.find("no weights"), std::string::npos) << message;

  caffe::NetParameter wrong_shape = weights;
  wrong_shape.mutable_layer(1)->mutable_blobs(0)->mutable_shape()->set_dim(0, 2);
  wrong_shape.mutable_layer(1)->mutable_blobs(0)->add_data(0);
  message = error_of([&] { Model::FromNetParameter(parse(kChain), wrong_shape); });
  EXPECT_NE(message.find("'a'"), std::string::npos) << message;
  EXPECT_NE(message.find("blobs[0]"), std::string::npos) << message;

  caffe::NetParameter extra_blob = weights;
  *extra_blob.mutable_layer(1)->add_blobs() = weights.layer(1).blobs(0);
  message = error_of([&] { Model::FromNetParameter(parse(kChain), extra_blob); });
  EXPECT_NE(message.find("2 weight blobs"), std::string::npos) << message;

  // Two layers of one name that both take weights cannot both be matched by
  // name (Caffe gives the file's entry to the last one only): both named.
  // Layers without weights may share a name.
  const std::string twins = R"(
    name: "twins"
    input: "data" input_shape { dim: 2 dim: 3 }
    layer { name: "a" type: "TestAddWeight" bottom: "data" top: "x" }
    layer { name: "v" type: "TestView" bottom: "x" top: "y" }
    layer { name: "v" type: "TestView" bottom: "y" top: "z" }
    layer { name: "a" type: "TestAddWeight" bottom: "z" top: "w" })";
  caffe::NetParameter twin_weights;
  Model::WithRandomWeights(parse(twins), 5)->ToCaffemodel(&twin_weights);
  message = error_of([&] { Model::FromNetParameter(parse(twins), twin_weights, {}, "twins.prototxt"); });
  EXPECT_NE(message.find("twins.prototxt: two layers named 'a' take weights"), std::string::npos) << message;
}

// PReLU's and Normalize's shared scale is a 0-axis blob, which Caffe (and
// Model::ToCaffemodel, as init-weights writes it) stores with no shape
// message and no legacy dims; it loaded as a legacy (0,0,0,0) blob and was
// refused.
TEST_F(NetTest, ZeroAxisWeightBlobsLoadFromACaffemodel) {
  const auto definition = parse(R"(
    input: "data" input_shape { dim: 1 dim: 3 dim: 2 dim: 2 }
    layer { name: "p" type: "PReLU" bottom: "data" top: "p" prelu_param { channel_shared: true } }
    layer { name: "n" type: "Normalize" bottom: "p" top: "n" })");
  auto model = Model::WithRandomWeights(definition, 3);
  caffe::NetParameter weights;
  model->ToCaffemodel(&weights);
  for (const auto& layer : weights.layer()) {
    for (const auto& blob : layer.blobs()) EXPECT_FALSE(blob.has_shape()) << layer.name();
  }
  auto loaded = Model::FromNetParameter(definition, weights, {}, "scalars.caffemodel");
  for (int layer = 1; layer <= 2; ++layer) {
    ASSERT_EQ(loaded->layer_weights(layer).size(), 1u);
    EXPECT_TRUE(loaded->layer_weights(layer)[0]->shape().empty());
    EXPECT_EQ(loaded->layer_weights(layer)[0]->cpu_data()[0], model->layer_weights(layer)[0]->cpu_data()[0]);
  }

  // Legacy (1,1,1,1) matches a 0-axis blob too (Caffe's LegacyShape is 1 past
  // the blob's axes); an empty shape message is the 0-axis form as well.
  caffe::NetParameter legacy = weights, empty_shape = weights;
  for (auto& layer : *legacy.mutable_layer()) {
    for (auto& blob : *layer.mutable_blobs()) {
      blob.set_num(1);
      blob.set_channels(1);
      blob.set_height(1);
      blob.set_width(1);
    }
  }
  EXPECT_NO_THROW(Model::FromNetParameter(definition, legacy));
  for (auto& layer : *empty_shape.mutable_layer()) {
    for (auto& blob : *layer.mutable_blobs()) blob.mutable_shape();
  }
  EXPECT_NO_THROW(Model::FromNetParameter(definition, empty_shape));

  // A per-channel blob where the layer shares one value: an error naming the
  // shapes.
  caffe::NetParameter per_channel = weights;
  auto* blob = per_channel.mutable_layer(1)->mutable_blobs(0);
  blob->mutable_shape()->add_dim(3);
  blob->add_data(0.5f);
  blob->add_data(0.5f);
  const std::string message = error_of([&] { Model::FromNetParameter(definition, per_channel, {}, "m"); });
  EXPECT_NE(message.find("'p'"), std::string::npos) << message;
  EXPECT_NE(message.find("shape (3) in the file, the layer expects ()"), std::string::npos) << message;
}

TEST_F(NetTest, NetWithoutInputsIsAnError) {
  EXPECT_THROW(Model::WithRandomWeights(parse(R"(name: "empty")"), 1), Error);
}

TEST_F(NetTest, KernelReadyWeightsAreDerivedOncePerModelAndShared) {
  const auto definition = parse(R"(
    input: "data" input_shape { dim: 3 }
    layer { name: "d" type: "TestDerivedWeight" bottom: "data" top: "d" })");
  auto model = Model::WithRandomWeights(definition, 5);
  DerivedWeightLayer::derivations = 0;
  Net first(model), second(model);
  EXPECT_EQ(DerivedWeightLayer::derivations, 0) << "derived when a plan first reads it, not before";
  first.Forward();
  second.Forward();
  EXPECT_EQ(DerivedWeightLayer::derivations, 1) << "the second replica reuses the first one's derivation";
  const auto& first_layer = dynamic_cast<const DerivedWeightLayer&>(first.layer(1));
  const auto& second_layer = dynamic_cast<const DerivedWeightLayer&>(second.layer(1));
  ASSERT_NE(first_layer.doubled_, nullptr);
  EXPECT_EQ(first_layer.doubled_.get(), second_layer.doubled_.get()) << "one copy for both replicas";
  EXPECT_EQ(model->cpu_kernel_weight_bytes(), sizeof(float));
  const float w = model->layer_weights(1)[0]->cpu_data()[0];
  first.input_blobs()[0]->mutable_cpu_data()[0] = 1.0f;
  first.Forward();
  EXPECT_FLOAT_EQ(first.output_blobs()[0]->cpu_data()[0], 1.0f + 2 * w);
  // A form the layer does not have is null, and asked for once.
  EXPECT_EQ(model->cpu_kernel_weight(1, first.layer(1), 0), nullptr);
  EXPECT_EQ(DerivedWeightLayer::derivations, 1);
  // A net without a model has no kernel-ready weights; its layer reads the weights.
  auto probe = Net::WithoutWeights(model->net(), "probe");
  probe->Reshape();
  EXPECT_EQ(dynamic_cast<const DerivedWeightLayer&>(probe->layer(1)).doubled_, nullptr);
  EXPECT_EQ(DerivedWeightLayer::derivations, 1);
}

TEST_F(NetTest, LayersLearnWhetherTheirReadersSplitByChannels) {
  // expand's only reader is a depthwise convolution; dw's a pooling; pool's
  // an in-place ReLU; relu's top is the net's output (read outside); both's
  // readers are a depthwise convolution and a 3x3 one.
  auto model = Model::WithRandomWeights(parse(R"(
    input: "data" input_shape { dim: 1 dim: 16 dim: 40 dim: 40 }
    layer { name: "expand" type: "Convolution" bottom: "data" top: "e"
            convolution_param { num_output: 96 kernel_size: 1 } }
    layer { name: "dw" type: "Convolution" bottom: "e" top: "d"
            convolution_param { num_output: 96 group: 96 kernel_size: 3 pad: 1 } }
    layer { name: "pool" type: "Pooling" bottom: "d" top: "p" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "relu" type: "ReLU" bottom: "p" top: "p" }
    layer { name: "both" type: "Convolution" bottom: "p" top: "b" convolution_param { num_output: 96 kernel_size: 1 } }
    layer { name: "dw2" type: "Convolution" bottom: "b" top: "d2"
            convolution_param { num_output: 96 group: 96 kernel_size: 3 pad: 1 } }
    layer { name: "full" type: "Convolution" bottom: "b" top: "f"
            convolution_param { num_output: 96 kernel_size: 3 pad: 1 } })"),
                                        7);
  auto net = std::make_unique<Net>(model);
  std::map<std::string, bool> read_by_channels;
  for (int i = 0; i < net->num_layers(); ++i) {
    read_by_channels[net->layer(i).name()] = net->layer(i).tops_read_by_channels();
  }
  EXPECT_TRUE(read_by_channels.at("expand"));
  EXPECT_TRUE(read_by_channels.at("dw"));
  EXPECT_FALSE(read_by_channels.at("pool"));
  EXPECT_FALSE(read_by_channels.at("relu"));
  EXPECT_FALSE(read_by_channels.at("both"));
  EXPECT_FALSE(read_by_channels.at("dw2"));
  // The hint changes no result: two compute threads (expand's 96 x 16 x 1600
  // product then split by its output channels) give one thread's bits.
  net->Reshape();
  for (std::size_t i = 0; i < net->input_blobs()[0]->count(); ++i) {
    net->input_blobs()[0]->mutable_cpu_data()[i] = static_cast<float>((i * 37) % 11) - 5.0f;
  }
  net->Forward();
  const std::vector<float> one(net->blob("d2")->cpu_data(), net->blob("d2")->cpu_data() + net->blob("d2")->count());
  net->SetComputeThreads(2);
  net->Forward();
  EXPECT_EQ(0, std::memcmp(one.data(), net->blob("d2")->cpu_data(), one.size() * sizeof(float)));
}

TEST_F(NetTest, LayersLearnWhetherTheirBottomWasWrittenByChannels) {
  // project reads a depthwise convolution's output, and so does relu
  // (dw2's), which writes it again in place: project2 reads what a ReLU
  // wrote last. pool and dw read the input. A MobileNet v2 projection (384 -> 64 at 28x28) on two
  // threads then splits its product by blocks of k (sgemm Split::kBlocksOfK):
  // one thread's bits.
  auto model = Model::WithRandomWeights(parse(R"(
    input: "data" input_shape { dim: 1 dim: 384 dim: 28 dim: 28 }
    layer { name: "dw" type: "Convolution" bottom: "data" top: "d"
            convolution_param { num_output: 384 group: 384 kernel_size: 3 pad: 1 } }
    layer { name: "project" type: "Convolution" bottom: "d" top: "p"
            convolution_param { num_output: 64 kernel_size: 1 } }
    layer { name: "dw2" type: "Convolution" bottom: "data" top: "d2"
            convolution_param { num_output: 384 group: 384 kernel_size: 3 pad: 1 } }
    layer { name: "relu" type: "ReLU" bottom: "d2" top: "d2" }
    layer { name: "project2" type: "Convolution" bottom: "d2" top: "p2"
            convolution_param { num_output: 64 kernel_size: 1 } }
    layer { name: "pool" type: "Pooling" bottom: "data" top: "q" pooling_param { pool: MAX kernel_size: 2 stride: 2 } })"),
                                        8);
  auto net = std::make_unique<Net>(model);
  std::map<std::string, bool> written_by_channels;
  for (int i = 0; i < net->num_layers(); ++i) {
    written_by_channels[net->layer(i).name()] = net->layer(i).bottom_written_by_channels();
  }
  EXPECT_TRUE(written_by_channels.at("project"));
  EXPECT_FALSE(written_by_channels.at("project2"));
  EXPECT_TRUE(written_by_channels.at("relu"));  // dw2's output
  EXPECT_FALSE(written_by_channels.at("pool"));
  EXPECT_FALSE(written_by_channels.at("dw"));
  net->Reshape();
  for (std::size_t i = 0; i < net->input_blobs()[0]->count(); ++i) {
    net->input_blobs()[0]->mutable_cpu_data()[i] = static_cast<float>((i * 37) % 11) - 5.0f;
  }
  net->Forward();
  const std::vector<float> one(net->blob("p")->cpu_data(), net->blob("p")->cpu_data() + net->blob("p")->count());
  net->SetComputeThreads(2);
  net->Forward();
  EXPECT_EQ(0, std::memcmp(one.data(), net->blob("p")->cpu_data(), one.size() * sizeof(float)));
}

TEST_F(NetTest, AFailedDerivationIsAnErrorAndTheNextReplicaRetries) {
  auto model = Model::WithRandomWeights(parse(R"(
    input: "data" input_shape { dim: 3 }
    layer { name: "broken" type: "TestDerivedWeight" bottom: "data" top: "d" })"),
                                        5);
  DerivedWeightLayer::derivations = 0;
  DerivedWeightLayer::fail_derivation = true;
  Net failing(model);
  const std::string error = error_of([&] { failing.Forward(); });
  EXPECT_NE(error.find("layer 'broken'"), std::string::npos) << error;
  DerivedWeightLayer::fail_derivation = false;
  Net net(model);
  net.Forward();
  EXPECT_EQ(DerivedWeightLayer::derivations, 2);
  EXPECT_NE(dynamic_cast<const DerivedWeightLayer&>(net.layer(1)).doubled_, nullptr);
  // The replica whose plan failed plans again at its next forward.
  failing.Forward();
  EXPECT_EQ(DerivedWeightLayer::derivations, 2);
  EXPECT_NE(dynamic_cast<const DerivedWeightLayer&>(failing.layer(1)).doubled_, nullptr);
}

}  // namespace
}  // namespace predictor
