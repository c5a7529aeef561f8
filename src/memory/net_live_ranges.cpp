#include "memory/net_live_ranges.h"

#include <algorithm>
#include <map>
#include <set>

#include "predictor/Error.h"

namespace predictor::memory {

NetRequests collect_net_requests(const Net& net, const std::vector<std::string>& keep_blobs) {
  std::set<const SyncedMemory*> unplanned;
  for (const Blob* input : net.input_blobs()) unplanned.insert(input->data().get());

  struct Group {
    std::size_t bytes = 0;
    int first = 0;
    int last = 0;
    std::string name;  // of the blob that first wrote it
  };
  std::map<SyncedMemory*, Group> groups;
  std::vector<SyncedMemory*> order;  // groups in order of first write
  const int end = net.num_layers();
  // A blob placed inside another (copy elision) is part of its whole's
  // storage: touching it keeps the whole alive.
  std::map<const SyncedMemory*, const Blob*> whole_of;
  for (const Net::StorageAlias& alias : net.storage_aliases()) whole_of[alias.blob->data().get()] = alias.root;
  const auto resolve = [&](const Blob* blob) {
    auto it = whole_of.find(blob->data().get());
    return it == whole_of.end() ? blob : it->second;
  };

  const auto touch = [&](const Blob* part, int step, const std::string& name, bool write) {
    const Blob* blob = resolve(part);
    SyncedMemory* storage = blob->data().get();
    if (unplanned.count(storage)) return;
    auto [it, fresh] = groups.try_emplace(storage);
    Group& group = it->second;
    if (fresh) {
      group.first = write ? step : 0;
      group.name = name;
      order.push_back(storage);
    }
    group.bytes = std::max(group.bytes, blob->count() * sizeof(float));
    group.last = std::max(group.last, step);
  };

  for (int i = 0; i < end; ++i) {
    for (std::size_t b = 0; b < net.bottom_blobs(i).size(); ++b) {
      touch(net.bottom_blobs(i)[b], i, net.bottom_names(i)[b], false);
    }
    for (std::size_t t = 0; t < net.top_blobs(i).size(); ++t) {
      touch(net.top_blobs(i)[t], i, net.top_names(i)[t], true);
    }
  }
  const auto keep_alive = [&](const Blob* blob) {
    auto it = groups.find(resolve(blob)->data().get());
    if (it != groups.end()) it->second.last = end;
  };
  for (const Blob* output : net.output_blobs()) keep_alive(output);
  for (const std::string& name : keep_blobs) {
    if (const Blob* blob = net.blob(name)) keep_alive(blob);
  }

  NetRequests requests;
  for (SyncedMemory* storage : order) {
    const Group& group = groups[storage];
    requests.ranges.push_back(LiveRange{group.bytes, group.first, group.last, group.name});
    requests.storage.push_back(storage);
    requests.scratch_layer.push_back(-1);
  }
  for (int i = 0; i < end; ++i) {
    // Layers on another backend than the arena's use scratch of their own.
    if (net.scratch_bytes(i) == 0 || net.layer_backend(i) != net.main_backend()) continue;
    requests.ranges.push_back(LiveRange{net.scratch_bytes(i), i, i, net.layer(i).name() + " (scratch)"});
    requests.storage.push_back(nullptr);
    requests.scratch_layer.push_back(i);
  }
  return requests;
}

void check_replica_bytes(std::size_t bytes, std::size_t limit, const NetRequests& requests) {
  if (bytes <= limit) return;
  std::size_t largest = 0;
  for (std::size_t r = 1; r < requests.ranges.size(); ++r) {
    if (requests.ranges[r].bytes > requests.ranges[largest].bytes) largest = r;
  }
  std::string detail;
  if (!requests.ranges.empty()) {
    const LiveRange& range = requests.ranges[largest];
    detail = "; the largest is " + (requests.scratch_layer[largest] >= 0 ? "the scratch of layer " : std::string("blob ")) +
             "'" + range.name + "' (" + std::to_string(range.bytes) + " bytes)";
  }
  throw OutOfMemoryError("the activations and scratch at these input shapes need " + std::to_string(bytes) +
                         " bytes, over the limit of " + std::to_string(limit) + " (ReplicaLimits::max_bytes)" + detail);
}

}  // namespace predictor::memory
