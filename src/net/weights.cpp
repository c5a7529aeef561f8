#include "net/weights.h"

#include <map>
#include <random>

#include "predictor/Error.h"

namespace predictor {

namespace {

std::string proto_shape_text(const caffe::BlobProto& blob) {
  if (blob.has_shape()) {
    std::vector<int> shape;
    for (int64_t dim : blob.shape().dim()) shape.push_back(static_cast<int>(dim));
    return shape_string(shape);
  }
  return shape_string({blob.num(), blob.channels(), blob.height(), blob.width()}) + " (legacy 4-D)";
}

bool shape_matches(const caffe::BlobProto& blob, const std::vector<int>& expected) {
  if (blob.has_shape()) {
    if (blob.shape().dim_size() != static_cast<int>(expected.size())) return false;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (blob.shape().dim(static_cast<int>(i)) != expected[i]) return false;
    }
    return true;
  }
  // Legacy num/channels/height/width: compare with the expected shape padded
  // to 4 axes with leading 1s (Caffe's Blob::ShapeEquals).
  if (expected.size() > 4) return false;
  std::vector<int> padded(4 - expected.size(), 1);
  padded.insert(padded.end(), expected.begin(), expected.end());
  return padded == std::vector<int>{blob.num(), blob.channels(), blob.height(), blob.width()};
}

std::uint32_t name_hash(const std::string& name) {
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (unsigned char c : name) hash = (hash ^ c) * 16777619u;
  return hash;
}

}  // namespace

std::vector<std::vector<std::vector<int>>> expected_weight_shapes(const Net& net) {
  std::vector<std::vector<std::vector<int>>> shapes;
  for (int i = 0; i < net.num_layers(); ++i) {
    try {
      shapes.push_back(net.layer(i).weight_shapes(net.bottom_blobs(i)));
    } catch (const Error& error) {
      throw Error(net.source() + ": " + error.what());
    }
  }
  return shapes;
}

std::vector<LayerWeights> match_weights(const Net& net, caffe::NetParameter* weights,
                                        const std::string& weights_source) {
  // Later layers of the same name win, as in Caffe's CopyTrainedLayersFrom;
  // a name's entry without blobs (a TRAIN/TEST duplicate) never hides one with.
  std::map<std::string, caffe::LayerParameter*> by_name;
  for (auto& layer : *weights->mutable_layer()) {
    auto& slot = by_name[layer.name()];
    if (slot == nullptr || layer.blobs_size() > 0) slot = &layer;
  }

  const auto shapes = expected_weight_shapes(net);
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

std::vector<LayerWeights> random_weights(const Net& net, std::uint32_t seed) {
  const auto shapes = expected_weight_shapes(net);
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
