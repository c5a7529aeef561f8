#include "net/copy_elision.h"

#include <algorithm>
#include <map>
#include <set>

namespace predictor {

namespace {

// Who touches each storage (a blob and its in-place successors share one;
// so do a view and its bottom).
struct StorageUse {
  std::set<const Blob*> blobs;
  std::vector<int> writers;  // layers that write it (in-place included, views excluded)
};

struct Part {
  const SyncedMemory* whole = nullptr;
  std::size_t offset_floats = 0;
};

class ElisionPlanner {
 public:
  explicit ElisionPlanner(const Net& net) : net_(net) {
    for (const Blob* input : net.input_blobs()) caller_storage_.insert(input->data().get());
    for (int i = 0; i < net.num_layers(); ++i) {
      for (const Blob* bottom : net.bottom_blobs(i)) use(bottom).blobs.insert(bottom);
      for (std::size_t t = 0; t < net.top_blobs(i).size(); ++t) {
        const Blob* top = net.top_blobs(i)[t];
        StorageUse& u = use(top);
        u.blobs.insert(top);
        if (net.layer(i).top_shares_bottom(static_cast<int>(t)) < 0) u.writers.push_back(i);
      }
    }
  }

  CopyElisionPlan Plan() {
    CopyElisionPlan plan;
    plan.elided.assign(net_.num_layers(), false);
    for (int i = 0; i < net_.num_layers(); ++i) {
      // Host-device transfers are per blob: a part moved alone would leave
      // its whole stale on the other side.
      if (net_.layer_backend(i) != net_.main_backend()) return plan;
    }
    for (int i = 0; i < net_.num_layers(); ++i) plan.elided[i] = TryElide(i);
    for (const auto& [storage, part] : parts_) {
      std::size_t offset = part.offset_floats;
      const SyncedMemory* root = part.whole;
      // Wholes are produced after their gathered parts and before their
      // scattered ones, so the chain ends (at most one step per part).
      for (auto up = parts_.find(root); up != parts_.end(); up = parts_.find(root)) {
        offset += up->second.offset_floats;
        root = up->second.whole;
      }
      plan.aliases.push_back(
          Net::StorageAlias{only_blob(storage), only_blob(root), offset * sizeof(float)});
    }
    return plan;
  }

 private:
  StorageUse& use(const Blob* blob) { return uses_[blob->data().get()]; }
  const Blob* only_blob(const SyncedMemory* storage) const { return *uses_.at(storage).blobs.begin(); }

  // One blob owns the storage and it is the net's own.
  bool is_plain(const SyncedMemory* storage) const {
    return !caller_storage_.count(storage) && uses_.at(storage).blobs.size() == 1;
  }
  bool written_after(const SyncedMemory* storage, int i) const {
    for (int writer : uses_.at(storage).writers) {
      if (writer > i) return true;
    }
    return false;
  }

  bool TryElide(int i) {
    const Layer::ElidableCopy copy = net_.layer(i).elidable_copy(net_.bottom_blobs(i), net_.top_blobs(i));
    if (copy.kind == Layer::CopyKind::kNone) return false;
    const bool gather = copy.kind == Layer::CopyKind::kGather;
    const SyncedMemory* whole = gather ? net_.top_blobs(i)[0]->data().get() : net_.bottom_blobs(i)[0]->data().get();
    if (!is_plain(whole) || written_after(whole, i)) return false;
    std::vector<const SyncedMemory*> parts;
    const std::size_t n = gather ? net_.bottom_blobs(i).size() : net_.top_blobs(i).size();
    if (copy.offsets.size() != n) return false;
    for (std::size_t p = 0; p < n; ++p) {
      const SyncedMemory* part = gather ? net_.bottom_blobs(i)[p]->data().get() : net_.top_blobs(i)[p]->data().get();
      if (part == whole || !is_plain(part) || parts_.count(part)) return false;
      if (std::find(parts.begin(), parts.end(), part) != parts.end()) return false;  // a blob joined twice
      const std::vector<int>& writers = uses_.at(part).writers;
      if (gather ? written_after(part, i) : (writers.size() != 1 || writers[0] != i)) return false;
      parts.push_back(part);
    }
    for (std::size_t p = 0; p < n; ++p) parts_[parts[p]] = Part{whole, copy.offsets[p]};
    return true;
  }

  const Net& net_;
  std::set<const SyncedMemory*> caller_storage_;
  std::map<const SyncedMemory*, StorageUse> uses_;
  std::map<const SyncedMemory*, Part> parts_;  // each placed storage and where
};

}  // namespace

CopyElisionPlan plan_copy_elision(const Net& net) { return ElisionPlanner(net).Plan(); }

}  // namespace predictor
