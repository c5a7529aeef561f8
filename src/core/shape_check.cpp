#include "core/shape_check.h"

#include <limits>

#include "predictor/Blob.h"
#include "predictor/Error.h"
#include "predictor/Limits.h"

namespace predictor {

int checked_dim(std::int64_t value, const std::string& where, bool allow_unknown) {
  if ((value < 0 && !(allow_unknown && value == -1)) || value > std::numeric_limits<int>::max()) {
    throw Error(where + ": dimension " + std::to_string(value) + " is out of range (0 to " +
                std::to_string(std::numeric_limits<int>::max()) + ")");
  }
  return static_cast<int>(value);
}

std::vector<int> checked_shape(const std::vector<std::int64_t>& dims, const std::string& where,
                               bool allow_unknown) {
  std::vector<int> shape;
  shape.reserve(dims.size() <= static_cast<std::size_t>(kMaxBlobAxes) ? dims.size() : 0);
  for (std::int64_t dim : dims) shape.push_back(checked_dim(dim, where, allow_unknown));
  checked_count(shape, where);
  return shape;
}

std::int64_t checked_count(const std::vector<int>& shape, const std::string& where) {
  if (shape.size() > static_cast<std::size_t>(kMaxBlobAxes)) {
    throw Error(where + ": " + std::to_string(shape.size()) + " axes, at most " + std::to_string(kMaxBlobAxes));
  }
  std::int64_t count = 1;
  for (int dim : shape) {
    if (dim <= 0) {
      if (dim == 0) return 0;
      continue;
    }
    // count * dim <= kMaxBlobElements < 2^31, so the product never overflows.
    if (count > kMaxBlobElements / dim) {
      throw Error(where + ": shape " + shape_string(shape) + " has more than " + std::to_string(kMaxBlobElements) +
                  " elements (the most one blob may hold)");
    }
    count *= dim;
  }
  return count;
}

}  // namespace predictor
