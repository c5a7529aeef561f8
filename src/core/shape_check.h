#pragma once
// Range checks for dimensions and shapes that come from outside: model
// files, flags, the API. A dimension must fit an int and a shape's element
// count kMaxBlobElements (see predictor/Limits.h), checked in 64 bits before
// anything is allocated. `where` names the file, layer and field for the
// message.

#include <cstdint>
#include <string>
#include <vector>

namespace predictor {

// `value` as an int dimension. With `allow_unknown`, -1 ("not given", as in
// a data layer's unknown image size) passes too.
int checked_dim(std::int64_t value, const std::string& where, bool allow_unknown = false);

// `dims` as a shape, each checked as above and the element count (of the
// known dimensions) against kMaxBlobElements and the axes against
// kMaxBlobAxes.
std::vector<int> checked_shape(const std::vector<std::int64_t>& dims, const std::string& where,
                               bool allow_unknown = false);

// The element count of `shape` (negative dimensions count as 1), throwing
// when it exceeds kMaxBlobElements or the shape has too many axes.
std::int64_t checked_count(const std::vector<int>& shape, const std::string& where);

}  // namespace predictor
