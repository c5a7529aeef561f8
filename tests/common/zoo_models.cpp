#include "common/zoo_models.h"

#include <cctype>

#include "common/test_utils.h"

namespace predictor::testing {

std::string ZooModel::path() const { return models_dir() + "/" + folder + "/" + file; }

LoadOptions ZooModel::load_options() const {
  LoadOptions options;
  options.input_shapes = input_shapes;
  options.pooling_rule = pooling_rule;
  return options;
}

std::string ZooModel::label() const {
  std::string name = folder + "_" + file;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

const std::vector<ZooModel>& runnable_zoo_models() {
  static const std::vector<ZooModel> models = {
      {"bvlc_alexnet", "deploy.prototxt", {}},
      {"bvlc_reference_caffenet", "deploy.prototxt", {}},
      {"bvlc_googlenet", "deploy.prototxt", {}},
      {"lenet", "deploy.prototxt", {}},
      {"cifar10_quick", "deploy.prototxt", {}},
      {"cifar10_full", "deploy.prototxt", {}},
      {"vgg16", "deploy.prototxt", {}},
      {"resnet18", "deploy.prototxt", {}},
      {"resnet50", "deploy.prototxt", {}},
      {"resnet101", "deploy.prototxt", {}},
      {"resnet152", "deploy.prototxt", {}},
      {"mobilenet_v1", "deploy.prototxt", {}},
      {"mobilenet_v2", "deploy.prototxt", {}},
      {"squeezenet_v1.0", "deploy.prototxt", {}},
      {"squeezenet_v1.1", "deploy.prototxt", {}},
      {"densenet121", "deploy.prototxt", {}},
      {"inception_v3", "deploy.prototxt", {}},
      {"inception_v4", "deploy.prototxt", {}},
      {"inception_resnet_v2", "deploy.prototxt", {}},
      {"yolov1_tiny", "deploy.prototxt", {}},
      {"alexnet_bn", "train_val.prototxt", {}},
      // CIFAR-10 images are 32x32; the Data layer has no crop_size to say so.
      {"ccgo_cifar10_bn", "train_val.prototxt", {{"data", {10, 3, 32, 32}}}},
      {"ccgo_cifar10_bn", "opt_train_val.prototxt", {{"data", {10, 3, 32, 32}}}},
  };
  return models;
}

const std::vector<ZooModel>& fork_zoo_models() {
  static const std::vector<ZooModel> models = {
      {"mobilenet_ssd", "deploy.prototxt", {}},
      {"shufflenet_v1_1x_g3", "deploy.prototxt", {}},
      {"shufflenet_v2_1x", "deploy.prototxt", {}},
      // Its stride-1 2x2 max pool keeps 13x13 only with caffe-yolov3's rule.
      {"yolov3_tiny", "deploy.prototxt", {}, PoolingRule::CAFFE_YOLOV3},
      {"yolov3_416", "deploy.prototxt", {}},
      {"yolov4", "deploy.prototxt", {}},
  };
  return models;
}

const std::vector<ZooModel>& all_zoo_models() {
  static const std::vector<ZooModel> models = [] {
    std::vector<ZooModel> all = runnable_zoo_models();
    all.insert(all.end(), fork_zoo_models().begin(), fork_zoo_models().end());
    return all;
  }();
  return models;
}

}  // namespace predictor::testing
