#pragma once
// Copy elision (Net::EnableCopyElision, on with Optimization::GRAPH): at
// the current shapes, find the Concat and Slice layers (Layer::elidable_copy)
// whose parts are contiguous runs of the whole — a batch of one joined or
// split along the channels — and place each part inside the whole's
// storage, so the producers write straight into their slice of the Concat
// and the Slice's consumers read theirs straight out of its bottom. The
// layer is then skipped. DenseNet's chained concats nest: each block's
// concat lives inside the next one's.
//
// A part is placed only when nothing can tell: it and the whole are not the
// caller's inputs or views of other blobs, the part is written only before
// the layer (a Concat) or only by it (a Slice), the whole is not written
// after the layer, no blob is placed in two wholes, and every layer runs on
// one backend (data crossing between host and device stays per blob).

#include <cstddef>
#include <vector>

#include "predictor/Net.h"

namespace predictor {

struct CopyElisionPlan {
  std::vector<bool> elided;                 // per layer: the copy is skipped
  std::vector<Net::StorageAlias> aliases;   // each resolved to its outermost whole
};

// Decides from the net's current shapes, blobs and storage (after every
// layer's reshape and views).
CopyElisionPlan plan_copy_elision(const Net& net);

}  // namespace predictor
