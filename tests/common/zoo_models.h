#pragma once
// The networks of ../shared/models, as the tests use them.

#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace predictor::testing {

struct ZooModel {
  std::string folder;
  std::string file;
  // Input shapes the file leaves open (train_val files without crop_size).
  std::map<std::string, std::vector<int>> input_shapes;

  std::string path() const;
  std::string label() const;  // folder_file, for test names
};

// For GoogleTest's messages.
inline void PrintTo(const ZooModel& model, std::ostream* out) { *out << model.folder << "/" << model.file; }

// The folders whose layer types are all BVLC types (SOURCES.md).
const std::vector<ZooModel>& runnable_zoo_models();

// The folders that need a Caffe fork's layers and fields (SSD, ShuffleNet,
// the YOLO ports). Not yolov3_tiny: as published it runs in no Caffe (see
// tests/models/test_zoo.cpp).
const std::vector<ZooModel>& fork_zoo_models();

// Both: every network of the zoo.
const std::vector<ZooModel>& all_zoo_models();

}  // namespace predictor::testing
