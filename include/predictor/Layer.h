#pragma once
// The layer interface: the glue between a LayerParameter and the kernels.
// A layer parses and validates its parameters, checks its wiring, infers
// top shapes, says how much scratch memory its forward needs, and calls
// kernels (kernels/cpu, kernels/cuda), which are plain functions on pointers.
//
// Layers are created per net replica and are cheap: the learned parameters
// are not owned by the layer but shared, read-only, by every replica of a
// model (set_weights). A layer must never write to its weights.
//
// Thread-safety: a layer belongs to one replica and is used by one thread at
// a time. const methods may be called concurrently.

#include "predictor/Export.h"
#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "predictor/Blob.h"
#include "predictor/Error.h"

namespace predictor::caffe {
class LayerParameter;
}

namespace predictor {

// What a forward call gets besides its blobs.
struct ForwardContext {
  // Scratch memory of at least Layer::scratch_bytes() bytes, 64-byte aligned,
  // not preserved between calls. Null when the layer asked for none.
  void* scratch = nullptr;
};

class PREDICTOR_API Layer {
 public:
  explicit Layer(const caffe::LayerParameter& param);
  virtual ~Layer();
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const caffe::LayerParameter& param() const { return *param_; }
  const std::string& name() const;
  const std::string& type() const;

  // Wiring: how many bottoms and tops the layer takes (-1: no upper limit).
  virtual int min_bottoms() const { return 1; }
  virtual int max_bottoms() const { return 1; }
  virtual int min_tops() const { return 1; }
  virtual int max_tops() const { return 1; }
  // Whether top i may be the very blob bottom i is (Caffe's in-place form).
  virtual bool allows_in_place() const { return false; }
  // For a top that is a view of a bottom (same storage, e.g. Flatten):
  // the bottom's index; -1 when the top has storage of its own.
  virtual int top_shares_bottom(int /*top_index*/) const { return -1; }

  // The learned parameters this layer expects in a .caffemodel, in Caffe's
  // order and shapes, given its input shapes. Empty for parameter-free layers.
  virtual std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const;
  // Fills freshly shaped weights with deterministic random values suited to
  // the layer, for `predictor init-weights`. The default draws fan-in scaled
  // Gaussians for weights (2+ axes) and small uniform values for vectors.
  virtual void fill_weights(const std::vector<Blob*>& weights, std::mt19937& rng) const;
  // Binds the shared, read-only weights (shapes already checked against
  // weight_shapes by the caller).
  void set_weights(std::vector<std::shared_ptr<const Blob>> weights);
  const std::vector<std::shared_ptr<const Blob>>& weights() const { return weights_; }

  // Shapes the tops from the bottoms and validates everything that depends
  // on shapes; sets scratch_bytes(). Throws predictor::Error naming the layer
  // and the offending field or input.
  virtual void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) = 0;
  // Scratch bytes forward needs for the shapes of the last reshape.
  std::size_t scratch_bytes() const { return scratch_bytes_; }
  // The work of forward_cpu at the shapes of the last reshape, in
  // multiply-adds or comparable steps: what a replica's work budget
  // (ReplicaLimits::max_multiply_adds) is checked against before a forward
  // runs. The default counts, for each top element, the weights per output
  // (a convolution's C/g*kh*kw, an inner product's K; 1 without weights),
  // plus one step per bottom element. Layers whose work grows otherwise (a
  // pooling or LRN window) override it; an estimate within a small factor
  // is enough.
  virtual double forward_multiply_adds(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) const;

  virtual void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                           const ForwardContext& context) = 0;

  // Throws predictor::Error("layer 'NAME' (TYPE): FIELD: MESSAGE").
  // `field` may be empty when no single field is at fault.
  [[noreturn]] void fail(const std::string& field, const std::string& message) const;

 protected:
  void set_scratch_bytes(std::size_t bytes) { scratch_bytes_ = bytes; }
  // He initialisation, as the default fill_weights draws for weights: a
  // Gaussian of standard deviation sqrt(2 / fan_in).
  static void fill_he_normal(Blob* blob, double fan_in, std::mt19937& rng);
  // Blob::CanonicalAxisIndex, failing with this layer's name and `field`.
  int canonical_axis(const Blob& blob, int axis, const std::string& field) const;
  // Weight i, current on the host (read-only, shared between replicas).
  const float* weight_data(int i) const;

 private:
  std::unique_ptr<caffe::LayerParameter> param_;
  std::vector<std::shared_ptr<const Blob>> weights_;
  std::size_t scratch_bytes_ = 0;
};

}  // namespace predictor
