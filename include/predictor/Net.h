#pragma once
// One executable replica of a model: its layers in prototxt order, its
// activation blobs, and shared read-only weights. Built from a Model (see
// Model.h), which owns the weights; creating a Net allocates no weight
// memory and runs no filler.
//
// Semantics follow Caffe's Net: layers run in file order; a top named like
// the bottom at the same index is in-place; a blob may feed several layers;
// the net outputs are the blobs no later layer consumes. Shapes propagate
// from the inputs: Forward() re-runs shape inference when an input's shape
// changed since the last call.
//
// Devices: a Net runs on the CPU or on one CUDA device. On a device every
// layer runs there if it can (Layer::supports_gpu), or where its `ctx`
// field puts it ("cpu" / "gpu"); the Net moves blobs between host and
// device through SyncedMemory where placement changes. A GPU net owns a
// CUDA stream and a cuBLAS handle; every kernel and copy of its forward is
// enqueued on that stream, and Forward() returns once the stream has
// finished: outputs are then complete and may be read with cpu_data()
// (copied on first access) or gpu_data() (no copy).
//
// Thread-safety: a Net is used by one thread at a time. Several Nets of the
// same Model may run concurrently.

#include "predictor/Export.h"
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "predictor/Blob.h"
#include "predictor/Device.h"
#include "predictor/Layer.h"
#include "predictor/Limits.h"
#include "predictor/MemoryStats.h"

namespace predictor::caffe {
class NetParameter;
}

namespace predictor {

class Model;
class DeviceWeights;
namespace memory {
class ActivationMemory;
}
namespace cuda {
class StreamContext;
}
class CapturedForward;

class PREDICTOR_API Net {
 public:
  // A replica of `model`, sharing its weights (the Net keeps the model
  // alive), running on `device`. A net with layers on a GPU uses the model's
  // weights on that device (Model::weights_on_device, uploaded by the first
  // net there) and creates its stream. Throws predictor::Error naming the
  // device or the layer (no such device, a bad `ctx`, a layer pinned to the
  // GPU that has no CUDA implementation).
  explicit Net(std::shared_ptr<const Model> model, Device device = Device::cpu());

  // A net without weights, for shape inference and weight-shape discovery.
  // `net` must be in deploy form (Model::net()). Forward() throws for layers
  // that need weights.
  static std::unique_ptr<Net> WithoutWeights(const caffe::NetParameter& net, const std::string& source);

  ~Net();
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;

  // Net inputs, in declaration order. Callers reshape them and write or
  // point (Blob::set_cpu_data) their data before Forward().
  const std::vector<Blob*>& input_blobs() const { return input_blobs_; }
  const std::vector<std::string>& input_names() const { return input_names_; }
  // Blobs no layer consumes, in order of production.
  const std::vector<Blob*>& output_blobs() const { return output_blobs_; }
  const std::vector<std::string>& output_names() const { return output_names_; }

  // Any blob by name; nullptr when there is none. With memory planning, a
  // blob that is neither an output nor kept (EnableMemoryPlanning's
  // keep_blobs, KeepBlobs) shares storage with others: read it only between
  // the layer that writes it and the next layer that reuses its memory.
  Blob* blob(const std::string& name) const;
  const std::vector<std::string>& blob_names() const { return blob_names_; }

  // Shape inference from the current input shapes; throws predictor::Error
  // naming the layer when a shape does not fit, and OutOfMemoryError when
  // the replica would exceed its limits (SetLimits) or memory runs out. A
  // failed Reshape leaves the net usable: the next one starts afresh.
  void Reshape();
  // Budgets checked by every Reshape (default: ReplicaLimits{}).
  void SetLimits(const ReplicaLimits& limits);
  const ReplicaLimits& limits() const { return limits_; }
  // Threads that compute each forward's CPU layers, the calling thread
  // included (default 1: the calling thread alone); N > 1 starts a pool of
  // N - 1 threads that this net owns. A change takes effect at the next
  // Forward, which plans the layers again (some plans, and their scratch,
  // depend on the thread count). Throws predictor::Error for N outside 1 to
  // PredictorOptions::kMaxComputeThreads or a thread that cannot start.
  void SetComputeThreads(int threads);
  int compute_threads() const;
  // Runs every layer; reshapes first when an input's shape changed.
  void Forward();
  // Runs layer i alone (for per-layer timing); Reshape() must be current
  // (else predictor::Error: a change since, such as SetComputeThreads or
  // EnableMemoryPlanning, may have changed the plan and the scratch). A GPU
  // layer's work is only enqueued: Synchronize() waits for it.
  void ForwardLayer(int i);
  // While one lives, the compute threads (SetComputeThreads) wait for the
  // next layer by polling instead of sleeping: waking a sleeping thread
  // costs 30-50 us, as much as a small layer takes. Forward() keeps them
  // awake itself; hold one around a run of ForwardLayer calls. It keeps the
  // threads it holds: a SetComputeThreads meanwhile gives the net new ones
  // and the old stop when the holder goes.
  class ComputeThreadsAwake {
   public:
    explicit ComputeThreadsAwake(const Net& net);
    ~ComputeThreadsAwake();
    ComputeThreadsAwake(const ComputeThreadsAwake&) = delete;
    ComputeThreadsAwake& operator=(const ComputeThreadsAwake&) = delete;

   private:
    std::shared_ptr<cpu::ThreadPool> pool_;
  };

  int num_layers() const { return static_cast<int>(layers_.size()); }
  // Layer indices run from 0 to num_layers() - 1; any other throws
  // predictor::Error (here and in every method below that takes one).
  const Layer& layer(int i) const { return *layers_[layer_index(i)]; }
  // Layer i's blobs. With memory planning they share storage with other
  // layers' blobs: read them right after ForwardLayer(i), or keep them.
  const std::vector<const Blob*>& bottom_blobs(int i) const { return bottoms_[layer_index(i)]; }
  const std::vector<Blob*>& top_blobs(int i) const { return tops_[layer_index(i)]; }
  const std::vector<std::string>& bottom_names(int i) const { return bottom_names_[layer_index(i)]; }
  const std::vector<std::string>& top_names(int i) const { return top_names_[layer_index(i)]; }
  // Activation-memory planning (Optimization::MEMORY). From now on every
  // Reshape plans storage so that blobs whose lifetimes do not overlap share
  // memory; the net outputs and `keep_blobs` are never overwritten, other
  // intermediate blobs are (read them only if kept). Plans are cached per
  // input shape. `strategy`: "best_fit" (default when empty) or
  // "linear_scan". Called again, it replaces the plan from the next Reshape
  // on; until then the blobs keep their values where they are. Throws
  // predictor::Error for an unknown strategy.
  void EnableMemoryPlanning(const std::string& strategy, const std::vector<std::string>& keep_blobs = {});
  // With planning: from the next Forward on, also keep `names` whole until
  // the forward after (besides the outputs and keep_blobs); replaces the
  // previous KeepBlobs set. Plans are cached per input shape and kept set,
  // so alternating sets re-plan nothing. Without planning every blob is
  // kept anyway; the set applies from when planning is enabled (and stays
  // through a later EnableMemoryPlanning). Throws predictor::Error for a
  // name the net does not have.
  void KeepBlobs(const std::vector<std::string>& names);
  bool memory_planning() const { return activation_memory_ != nullptr; }
  // The plan's figures at the current shapes (after Reshape/Forward); null
  // without planning.
  const MemoryStats* memory_stats() const;
  // The plan drawn as SVG (layer order across, storage up); empty without
  // planning.
  std::string MemoryPlanSvg(const std::string& title) const;

  // Copy elision (on with Optimization::GRAPH): from the next Reshape on,
  // where a Concat's bottoms or a Slice's tops are contiguous runs of the
  // whole at the current shapes (a batch of one along the channels), those
  // blobs live inside the whole's storage: their producers write straight
  // into the Concat's output, the Slice's consumers read straight from its
  // input, and the layer is skipped (see src/net/copy_elision.h for when a
  // blob is left alone). Every blob keeps its value.
  void EnableCopyElision(bool enable);
  // A blob placed inside another's storage, `offset_bytes` in.
  struct StorageAlias {
    const Blob* blob;
    const Blob* root;
    std::size_t offset_bytes;
  };
  // At the current shapes (after Reshape): the placed blobs, and whether
  // layer i's copy is skipped.
  const std::vector<StorageAlias>& storage_aliases() const { return aliases_; }
  bool copy_elided(int i) const {
    const int layer = layer_index(i);
    return !elided_.empty() && elided_[layer];
  }

  // Scratch bytes layer i needs at the current shapes, on its backend.
  std::size_t scratch_bytes(int i) const { return scratch_bytes_[layer_index(i)]; }
  // Where the net runs, and where layer i runs.
  const Device& device() const { return device_; }
  Backend layer_backend(int i) const { return backends_[layer_index(i)]; }
  // The backend whose memory holds the planned arena (the net's device).
  Backend main_backend() const { return device_.is_cuda() ? Backend::CUDA : Backend::CPU; }
  // The stream the net's GPU work is enqueued on (a cudaStream_t); null for
  // a net with no layer on a GPU.
  void* cuda_stream() const;
  // Waits for the net's GPU work (after ForwardLayer); no-op on the CPU.
  void Synchronize() const;
  // CUDA graphs (GPU nets whose layers all run on the GPU): from the second
  // forward at the same input shapes and input memory, the forward is
  // captured once and replayed. On by default; a capture that fails turns
  // them off for this net and the forward runs uncaptured.
  void EnableCudaGraphs(bool enable);
  // The arithmetic of the products of the layers that run on the GPU
  // (predictor/Precision.h; FP32 by default). TF32 on a net with no layer
  // on a GPU is an Error naming the net. Takes effect at the next forward
  // (it reshapes: layers choose their kernels by it).
  void SetPrecision(Precision precision);
  Precision precision() const { return precision_; }
  bool cuda_graph_active() const;
  const std::string& source() const { return source_; }
  const Model* model() const { return model_.get(); }

 private:
  Net(const caffe::NetParameter& net, std::shared_ptr<const Model> model, const std::string& source, Device device);
  void Build(const caffe::NetParameter& net);
  // Layer::set_tops_read_by_channels for every layer, from its readers, and
  // set_bottom_written_by_channels, from its first bottom's writer.
  void MarkChannelReaders();
  bool InputShapesChanged() const;
  void EnsureScratch();
  void PlaceLayers(const caffe::NetParameter& net);
  // i itself when it names a layer; else throws predictor::Error.
  int layer_index(int i) const;
  // Makes layer i's bottoms current on its side and its fresh tops writable
  // there without copying stale data over.
  void MoveBlobsFor(int i);
  void ForwardAllLayers();
  bool is_input_storage(const Blob* blob) const;
  // After a failure: waits for queued work, ignoring further errors.
  void SynchronizeQuietly() const;
  // Throws OutOfMemoryError when the current shapes exceed limits_ (the
  // memory budget is checked here only without planning; the planner checks
  // its plan).
  void CheckLimits() const;
  void ApplyMemoryPlan();
  // Points layer i's view tops at their bottoms' storage.
  void ShareViews(int i);
  // Copy elision at the current shapes: decides (PlanCopyElision) and,
  // without memory planning, points each placed blob into its whole
  // (planning places them itself).
  void PlanCopyElision();
  void PlaceAliasesInRoots();

  std::shared_ptr<const Model> model_;
  std::string source_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::vector<const Blob*>> bottoms_;
  std::vector<std::vector<Blob*>> tops_;
  std::vector<std::vector<std::string>> bottom_names_;
  std::vector<std::vector<std::string>> top_names_;
  std::vector<std::unique_ptr<Blob>> blobs_;
  std::vector<std::string> blob_names_;
  std::map<std::string, Blob*> blob_by_name_;
  std::vector<Blob*> input_blobs_;
  std::vector<std::string> input_names_;
  std::vector<Blob*> output_blobs_;
  std::vector<std::string> output_names_;
  std::vector<std::vector<int>> reshaped_input_shapes_;  // input shapes at the last Reshape
  bool reshaped_ = false;
  bool plan_stale_ = false;  // the kept set changed since the plan was applied
  ReplicaLimits limits_;
  std::shared_ptr<SyncedMemory> scratch_;  // shared by all layers: they run one at a time
  std::unique_ptr<memory::ActivationMemory> activation_memory_;  // with planning
  // The plan replaced by EnableMemoryPlanning, whose storage the blobs keep
  // using until the next Reshape places them in the new one.
  std::unique_ptr<memory::ActivationMemory> replaced_memory_;
  std::vector<std::string> extra_kept_;  // KeepBlobs' set, with planning or before it
  std::shared_ptr<cpu::ThreadPool> compute_pool_;  // with SetComputeThreads(N > 1)

  Device device_;
  std::vector<Backend> backends_;          // per layer
  std::vector<std::size_t> scratch_bytes_;  // per layer, on its backend
  std::shared_ptr<const DeviceWeights> device_weights_;
  std::unique_ptr<cuda::StreamContext> gpu_;  // with any layer on a GPU
  std::shared_ptr<SyncedMemory> gpu_scratch_;  // GPU layers' scratch without planning
  Precision precision_ = Precision::FP32;
  std::unique_ptr<CapturedForward> graph_;     // GPU nets whose layers all run on the GPU
  unsigned long long memory_generation_ = 0;   // bumped whenever blobs may have moved
  std::vector<const void*> graph_inputs_;      // the inputs' device addresses: the graph's key
  bool copy_elision_ = false;
  std::vector<bool> elided_;            // per layer, at the current shapes
  std::vector<StorageAlias> aliases_;   // at the current shapes
};

}  // namespace predictor
