#pragma once
// The networks of ../shared/models, as the tests use them.

#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "predictor/LoadOptions.h"

namespace predictor::testing {

struct ZooModel {
  std::string folder;
  std::string file;
  // Input shapes the file leaves open (train_val files without crop_size).
  std::map<std::string, std::vector<int>> input_shapes;
  // The pooling rule of the Caffe build the file was made for.
  PoolingRule pooling_rule = PoolingRule::CAFFE;

  // How the tests load it: input_shapes and pooling_rule.
  LoadOptions load_options() const;

  std::string path() const;
  std::string label() const;  // folder_file, for test names
};

// For GoogleTest's messages.
inline void PrintTo(const ZooModel& model, std::ostream* out) { *out << model.folder << "/" << model.file; }

// The folders whose layer types are all BVLC types (SOURCES.md).
const std::vector<ZooModel>& runnable_zoo_models();

// The folders that need a Caffe fork's layers and fields (SSD, ShuffleNet,
// the YOLO ports); yolov3_tiny with its port's pooling rule.
const std::vector<ZooModel>& fork_zoo_models();

// Both: every network of the zoo.
const std::vector<ZooModel>& all_zoo_models();

}  // namespace predictor::testing
