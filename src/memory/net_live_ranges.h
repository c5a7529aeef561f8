#pragma once
// The planner's input for one net at its current shapes: one request per
// activation storage and per layer scratch, with its lifetime in layer order.
//
// Storage, not blobs, is what gets planned: an in-place layer's top is its
// bottom, and a view (Split, Flatten, Reshape, Dropout) shares its bottom's
// SyncedMemory, so such blobs form one request living from the first write
// to the last read of any of them. Net inputs (the caller's memory) and
// anything sharing their storage are not planned; the blobs the caller keeps
// live to the end, so nothing overwrites them.

#include <string>
#include <vector>

#include "memory/live_range.h"
#include "predictor/Net.h"
#include "predictor/SyncedMemory.h"

namespace predictor::memory {

struct NetRequests {
  std::vector<LiveRange> ranges;
  // For ranges[i]: the storage it stands for, or null for a layer's scratch.
  std::vector<SyncedMemory*> storage;
  // For ranges[i]: the layer whose scratch it is, or -1.
  std::vector<int> scratch_layer;
};

NetRequests collect_net_requests(const Net& net, const std::vector<std::string>& keep_blobs);

// Throws OutOfMemoryError when `bytes` (what a replica would allocate for
// `requests`) exceeds `limit` (ReplicaLimits::max_bytes), naming the largest
// request.
void check_replica_bytes(std::size_t bytes, std::size_t limit, const NetRequests& requests);

}  // namespace predictor::memory
