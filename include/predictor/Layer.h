#pragma once
// The layer interface: the glue between a LayerParameter and the kernels.
// A layer is backend-neutral glue plus one execution per backend:
//   - shared by every backend: parameters and their validation (in the
//     constructor), wiring, weight shapes, shape inference (reshape);
//   - per backend: prepare_cpu / prepare_gpu plan that backend's kernels for
//     the shapes of the last reshape and say how much scratch memory they
//     need; forward_cpu / forward_gpu call the kernels (kernels/cpu,
//     kernels/cuda: plain functions on pointers).
// A layer runs on the GPU when supports_gpu() says it can (ncnn's
// support_vulkan); the Net moves its blobs to the side the layer runs on.
//
// Layers are created per net replica and are cheap: the learned parameters
// are not owned by the layer but shared, read-only, by every replica of a
// model (set_weights). A layer must never write to its weights.
//
// Thread-safety: a layer belongs to one replica and is used by one thread at
// a time. const methods may be called concurrently.

#include "predictor/Export.h"
#include <cstddef>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "predictor/Blob.h"
#include "predictor/Error.h"
#include "predictor/Precision.h"

namespace predictor::caffe {
class LayerParameter;
}
namespace predictor::cpu {
class ThreadPool;
}

namespace predictor {

// The backends a layer can run on.
enum class Backend { CPU, CUDA };
const char* backend_name(Backend backend);

// What a forward call gets besides its blobs.
struct ForwardContext {
  // Scratch memory of at least the bytes prepare_cpu / prepare_gpu asked
  // for, 64-byte aligned (256 on the device), not preserved between calls:
  // host memory for forward_cpu, device memory for forward_gpu. Null when
  // the layer asked for none.
  void* scratch = nullptr;
  // forward_cpu only: the replica's compute threads for this forward
  // (PredictorOptions::compute_threads); null means the calling thread
  // alone. The built-in kernels split their work over it (cpu::parallel_for,
  // kernels/cpu/thread_pool.h, which is not installed: a custom layer runs
  // on the calling thread).
  cpu::ThreadPool* pool = nullptr;
  // forward_gpu only: the CUDA device (already current), the replica's
  // stream (a cudaStream_t) on which every kernel and copy must be enqueued,
  // and a cuBLAS handle (a cublasHandle_t) bound to that stream. forward_gpu
  // must not synchronise the stream, allocate device memory or read device
  // data on the host: the Net may capture the forward into a CUDA graph.
  int device = -1;
  void* cuda_stream = nullptr;
  void* cublas = nullptr;
};

class PREDICTOR_API Layer {
 public:
  // Throws predictor::Error naming the layer and `fused_activation` when
  // the parameter carries that field (predictor's extension) and the type
  // is not one that applies it (Convolution, Deconvolution, InnerProduct);
  // the same for `fused_residual` (Convolution, InnerProduct) and
  // `fused_pointwise` (Convolution).
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

  // Copy elision (Net::EnableCopyElision): a layer whose forward only copies
  // whole blobs into contiguous parts of another says so at the current
  // shapes (after reshape), so that the Net can place those blobs inside
  // the other's storage and skip the copy. kGather: bottom b is copied to
  // top 0 at offsets[b] floats (Concat); kScatter: top t is bottom 0 from
  // offsets[t] floats on (Slice). kNone: not at these shapes (e.g. a batch
  // of more than one interleaves the parts).
  enum class CopyKind { kNone, kGather, kScatter };
  struct ElidableCopy {
    CopyKind kind = CopyKind::kNone;
    std::vector<std::size_t> offsets;
  };
  virtual ElidableCopy elidable_copy(const std::vector<const Blob*>& /*bottom*/,
                                     const std::vector<Blob*>& /*top*/) const {
    return {};
  }

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

  // Forms of the weights prepared for this layer's CPU kernels (a Winograd
  // transform, GEMM panels packed for the microkernel in use), numbered by
  // the layer: derived from the bound weights, the layer's parameters and
  // the CPU's instruction set, never from input shapes. A form is derived
  // only when prepare_cpu plans a kernel that reads it, once per model
  // (Model::cpu_kernel_weight), then shared read-only by every replica like
  // the weights themselves. Null where the form does not apply. Default: none.
  virtual std::shared_ptr<const Blob> derive_cpu_kernel_weight(int form) const;
  // Where cpu_kernel_weight gets its forms (the Net binds its model's
  // shared cache). Without one (a net built without a model) there are none,
  // and the kernels read weights() directly.
  using CpuKernelWeightSource = std::function<std::shared_ptr<const Blob>(const Layer& layer, int form)>;
  void set_cpu_kernel_weight_source(CpuKernelWeightSource source) { cpu_kernel_weight_source_ = std::move(source); }

  // Shapes the tops from the bottoms and validates everything that depends
  // on shapes (backend-neutral: no kernel planning here). Throws
  // predictor::Error naming the layer and the offending field or input.
  virtual void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) = 0;
  // Plans the CPU kernels for the shapes of the last reshape; returns the
  // host scratch bytes forward_cpu needs (default: none).
  virtual std::size_t prepare_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top);
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

  // The CUDA execution. A layer that returns true implements prepare_gpu
  // (device scratch bytes, like prepare_cpu) and forward_gpu, reading its
  // bottoms with gpu_data() and its weights with gpu_weight_data(), writing
  // its tops with mutable_gpu_data(); the Net has made the bottoms current
  // on the device (on the context's stream) before the call.
  virtual bool supports_gpu() const { return false; }
  virtual std::size_t prepare_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top);
  virtual void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                           const ForwardContext& context);
  // Binds the device copies of the weights (same order as set_weights), on
  // the device this layer's replica runs on; read-only, shared between
  // replicas. Owned by the model's per-device weight upload.
  void set_gpu_weights(std::vector<const float*> weights) { gpu_weights_ = std::move(weights); }
  // The arithmetic of this layer's products on the GPU (Net::SetPrecision),
  // read by prepare_gpu and forward_gpu; FP32 unless set.
  void set_gpu_precision(Precision precision) { gpu_precision_ = precision; }
  Precision gpu_precision() const { return gpu_precision_; }
  // The threads that will run forward_cpu (Net::SetComputeThreads: the
  // pool in ForwardContext::pool has this many, the caller included), read
  // by prepare_cpu where the plan and its scratch depend on them; 1 unless
  // set.
  void set_compute_threads(int threads) { compute_threads_ = threads; }
  int compute_threads() const { return compute_threads_; }
  // Whether forward_cpu splits its work over the compute threads by
  // channels of its bottom, each thread reading whole planes (a depthwise
  // convolution, pooling). Default: no.
  virtual bool splits_bottom_by_channels() const { return false; }
  // Whether every reader of this layer's tops splits them by channels
  // (Net::Build sets it from the readers' splits_bottom_by_channels): a
  // layer free to choose how its own work splits may then write by channels
  // too, so that each thread reads planes its own core wrote. A hint for
  // speed, read by prepare_cpu, never a condition of the results.
  void set_tops_read_by_channels(bool yes) { tops_read_by_channels_ = yes; }
  bool tops_read_by_channels() const { return tops_read_by_channels_; }
  // Whether forward_cpu splits its work over the compute threads by
  // channels of its tops, each thread writing whole planes (a depthwise
  // convolution). Default: no.
  virtual bool splits_top_by_channels() const { return false; }
  // Whether the layer that last wrote this layer's first bottom split it by
  // channels (Net::Build sets it from that layer's splits_top_by_channels):
  // a layer free to choose how its own work splits may then have each
  // thread read the channels its own core wrote. A hint for speed, read by
  // prepare_cpu, never a condition of the results.
  void set_bottom_written_by_channels(bool yes) { bottom_written_by_channels_ = yes; }
  bool bottom_written_by_channels() const { return bottom_written_by_channels_; }

  // Throws predictor::Error("layer 'NAME' (TYPE): FIELD: MESSAGE").
  // `field` may be empty when no single field is at fault.
  [[noreturn]] void fail(const std::string& field, const std::string& message) const;

 protected:
  // He initialisation, as the default fill_weights draws for weights: a
  // Gaussian of standard deviation sqrt(2 / fan_in).
  static void fill_he_normal(Blob* blob, double fan_in, std::mt19937& rng);
  // Blob::CanonicalAxisIndex, failing with this layer's name and `field`.
  int canonical_axis(const Blob& blob, int axis, const std::string& field) const;
  // Weight i, current on the host (read-only, shared between replicas).
  const float* weight_data(int i) const;
  // Weight i on the device (read-only, shared between replicas); fails
  // naming the layer when no device weights are bound.
  const float* gpu_weight_data(int i) const;
  // Form `form` of the weights for a CPU kernel (derive_cpu_kernel_weight),
  // from the bound source; null without one or where the form does not
  // apply. Called from prepare_cpu (a first call may derive the form).
  std::shared_ptr<const Blob> cpu_kernel_weight(int form) const;

 private:
  std::unique_ptr<caffe::LayerParameter> param_;
  std::vector<std::shared_ptr<const Blob>> weights_;
  CpuKernelWeightSource cpu_kernel_weight_source_;
  std::vector<const float*> gpu_weights_;
  Precision gpu_precision_ = Precision::FP32;
  int compute_threads_ = 1;
  bool tops_read_by_channels_ = false;
  bool bottom_written_by_channels_ = false;
};

}  // namespace predictor
