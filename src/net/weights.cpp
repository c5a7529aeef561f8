#include "net/weights.h"

#include <map>
#include <random>
#include <set>

#include "core/shape_check.h"
#include "predictor/Error.h"

namespace predictor {

namespace {

// Caffe's reading of a BlobProto's shape (Blob::ShapeEquals, FromProto): any
// of the deprecated num/channels/height/width fields present makes it those 4
// axes; otherwise the `shape` message's dims, none (no message, as Caffe's
// ToProto writes a 0-axis blob: PReLU's and Normalize's shared scale) meaning
// a 0-axis blob of one value.
bool has_legacy_dims(const caffe::BlobProto& blob) {
  return blob.has_num() || blob.has_channels() || blob.has_height() || blob.has_width();
}

std::string proto_shape_text(const caffe::BlobProto& blob) {
  if (has_legacy_dims(blob)) {
    return shape_string({blob.num(), blob.channels(), blob.height(), blob.width()}) + " (legacy 4-D)";
  }
  std::string text = "(";
  for (int64_t dim : blob.shape().dim()) text += (text.size() > 1 ? "," : "") + std::to_string(dim);
  return text + ")";
}

bool shape_matches(const caffe::BlobProto& blob, const std::vector<int>& expected) {
  if (has_legacy_dims(blob)) {
    // Compare with the expected shape padded to 4 axes with leading 1s.
    if (expected.size() > 4) return false;
    std::vector<int> padded(4 - expected.size(), 1);
    padded.insert(padded.end(), expected.begin(), expected.end());
    return padded == std::vector<int>{blob.num(), blob.channels(), blob.height(), blob.width()};
  }
  if (blob.shape().dim_size() != static_cast<int>(expected.size())) return false;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (blob.shape().dim(static_cast<int>(i)) != expected[i]) return false;
  }
  return true;
}

std::uint32_t name_hash(const std::string& name) {
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (unsigned char c : name) hash = (hash ^ c) * 16777619u;
  return hash;
}

}  // namespace

std::vector<std::vector<std::vector<int>>> expected_weight_shapes(const Net& net, std::size_t max_bytes) {
  std::vector<std::vector<std::vector<int>>> shapes;
  std::size_t bytes = 0;
  for (int i = 0; i < net.num_layers(); ++i) {
    const Layer& layer = net.layer(i);
    const std::string where = net.source() + ": layer '" + layer.name() + "' (" + layer.type() + ")";
    try {
      shapes.push_back(layer.weight_shapes(net.bottom_blobs(i)));
    } catch (const Error& error) {
      throw Error(net.source() + ": " + error.what());
    }
    for (std::size_t b = 0; b < shapes.back().size(); ++b) {
      const auto count = checked_count(shapes.back()[b], where + ": blobs[" + std::to_string(b) + "]");
      bytes += static_cast<std::size_t>(count) * sizeof(float);  // < 2^33 per blob: no overflow in 64 bits
      if (bytes > max_bytes) {
        throw OutOfMemoryError(where + ": the weights up to this layer take " + std::to_string(bytes) +
                               " bytes, over the limit of " + std::to_string(max_bytes) +
                               " (LoadOptions::max_weight_bytes)");
      }
    }
  }
  return shapes;
}

std::vector<LayerWeights> match_weights(const Net& net, caffe::NetParameter* weights,
                                        const std::string& weights_source, std::size_t max_bytes) {
  // Later layers of the same name win, as in Caffe's CopyTrainedLayersFrom;
  // a name's entry without blobs (a TRAIN/TEST duplicate) never hides one with.
  std::map<std::string, caffe::LayerParameter*> by_name;
  for (auto& layer : *weights->mutable_layer()) {
    auto& slot = by_name[layer.name()];
    if (slot == nullptr || layer.blobs_size() > 0) slot = &layer;
  }

  const auto shapes = expected_weight_shapes(net, max_bytes);
  // Two layers of one name that both take weights would both claim the
  // file's one entry (Caffe gives it to the last and leaves the other's
  // initial values, silently): an error naming both.
  std::set<std::string> weighted_names;
  for (int i = 0; i < net.num_layers(); ++i) {
    if (!shapes[i].empty() && !weighted_names.insert(net.layer(i).name()).second) {
      throw Error(net.source() + ": two layers named '" + net.layer(i).name() +
                  "' take weights, which are matched by layer name: the names must differ");
    }
  }
  std::vector<LayerWeights> result(net.num_layers());
  for (int i = 0; i < net.num_layers(); ++i) {
    const Layer& layer = net.layer(i);
    const auto& expected = shapes[i];
    const std::string where = weights_source + ": layer '" + layer.name() + "' (" + layer.type() + ")";
    auto it = by_name.find(layer.name());
    caffe::LayerParameter* source = it == by_name.end() ? nullptr : it->second;
    const int found = source ? source->blobs_size() : 0;
    if (expected.empty()) {
      if (found > 0) {
        throw Error(where + ": blobs: the file has " + std::to_string(found) +
                    " weight blobs for a layer that takes none");
      }
      continue;
    }
    if (found == 0) {
      throw Error(where + ": no weights in the file (" +
                  (source ? "the layer is there without blobs" : "no layer of that name") + ")");
    }
    if (found != static_cast<int>(expected.size())) {
      throw Error(where + ": blobs: the file has " + std::to_string(found) + " weight blobs, the layer takes " +
                  std::to_string(expected.size()));
    }
    for (int b = 0; b < found; ++b) {
      const caffe::BlobProto& proto = source->blobs(b);
      if (!shape_matches(proto, expected[b])) {
        throw Error(where + ": blobs[" + std::to_string(b) + "]: shape " + proto_shape_text(proto) +
                    " in the file, the layer expects " + shape_string(expected[b]));
      }
      auto blob = std::make_shared<Blob>();
      try {
        blob->FromProto(proto);
      } catch (const Error& error) {
        throw Error(where + ": blobs[" + std::to_string(b) + "]: " + error.what());
      }
      blob->Reshape(expected[b]);  // legacy 4-D -> the layer's shape, same count
      result[i].push_back(std::move(blob));
    }
    // The parsed file's copy is no longer needed: free it as we go, so that
    // a 500 MB model does not sit in memory twice.
    source->clear_blobs();
  }
  return result;
}

std::vector<LayerWeights> random_weights(const Net& net, std::uint32_t seed, std::size_t max_bytes) {
  const auto shapes = expected_weight_shapes(net, max_bytes);
  std::vector<LayerWeights> result(net.num_layers());
  for (int i = 0; i < net.num_layers(); ++i) {
    if (shapes[i].empty()) continue;
    std::vector<std::shared_ptr<Blob>> blobs;
    std::vector<Blob*> pointers;
    for (const auto& shape : shapes[i]) {
      blobs.push_back(std::make_shared<Blob>(shape));
      pointers.push_back(blobs.back().get());
    }
    std::seed_seq seeds{seed, name_hash(net.layer(i).name())};
    std::mt19937 rng(seeds);
    net.layer(i).fill_weights(pointers, rng);
    result[i].assign(blobs.begin(), blobs.end());
  }
  return result;
}

}  // namespace predictor
