#include "flags.h"

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "predictor/Error.h"
#include "tool_common.h"

DEFINE_string(model, "", "the network definition (.prototxt)");
DEFINE_string(weights, "", "the trained weights (.caffemodel)");
DEFINE_string(input_shape, "",
              "shapes replacing the declared input shapes: name:d0,d1,...;name2:d0,d1,...");
DEFINE_int32(batch, 0, "batch size, the first dimension of every input; 0 keeps the declared one");
DEFINE_uint32(seed, 1, "seed of the random weights and inputs");

namespace predictor::tool {

namespace {

// A positive dimension; `entry` is the --input_shape item, for messages.
int parse_dimension(const std::string& text, const std::string& entry) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || value < 1 || value > INT_MAX) {
    throw Error("--input_shape: '" + entry + "': '" + text + "' is not a positive dimension");
  }
  return static_cast<int>(value);
}

}  // namespace

bool flag_was_given(const char* name) { return !gflags::GetCommandLineFlagInfoOrDie(name).is_default; }

void require_flag(const char* name, const std::string& value) {
  if (value.empty()) throw Error(std::string("--") + name + " is required");
}

LoadOptions load_options_from_flags() {
  LoadOptions options;
  if (FLAGS_input_shape.empty()) return options;
  for (const std::string& entry : split(FLAGS_input_shape, ';')) {
    if (entry.empty()) continue;  // tolerate a trailing ';'
    // Split at the last ':' so that blob names may contain one.
    const std::size_t colon = entry.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      throw Error("--input_shape: '" + entry + "' is not name:d0,d1,...");
    }
    const std::string name = entry.substr(0, colon);
    std::vector<int> shape;
    for (const std::string& dim : split(entry.substr(colon + 1), ',')) shape.push_back(parse_dimension(dim, entry));
    if (!options.input_shapes.emplace(name, shape).second) {
      throw Error("--input_shape: input '" + name + "' is given twice");
    }
  }
  return options;
}

int batch_from_flags() {
  if (FLAGS_batch < 0 || (FLAGS_batch == 0 && flag_was_given("batch"))) {
    throw Error("--batch must be at least 1 (" + std::to_string(FLAGS_batch) + " given)");
  }
  return FLAGS_batch;
}

}  // namespace predictor::tool
