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

// Every folder whose layer types are all BVLC types (SOURCES.md).
const std::vector<ZooModel>& runnable_zoo_models();

// Folders that need a fork's layers or fields, with the field the load error
// must name.
const std::vector<std::pair<std::string, std::string>>& fork_zoo_models();

}  // namespace predictor::testing
