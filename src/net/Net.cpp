#include "predictor/Net.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <new>

#include "core/shape_check.h"
#include "cuda/cuda_api.h"
#include "cuda/stream_context.h"
#include "kernels/cpu/thread_pool.h"
#include "memory/activation_memory.h"
#include "memory/net_live_ranges.h"
#include "memory/plan_svg.h"
#include "net/captured_forward.h"
#include "net/copy_elision.h"
#include "net/device_weights.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"
#include "predictor/Model.h"
#include "predictor/PredictorOptions.h"

namespace predictor {

namespace {

// Re-throws `error` with `context` in front, keeping its type.
[[noreturn]] void rethrow_with_context(const Error& error, const std::string& context) {
  const std::string message = context + ": " + error.what();
  if (dynamic_cast<const OutOfMemoryError*>(&error)) throw OutOfMemoryError(message);
  throw Error(message);
}

// For a shape error at layer `failed`: a hint when an earlier Pooling layer
// is darknet's stride-1 max pool with an even kernel (yolov3-tiny's), which
// caffe-yolov3's Caffe sizes one larger than BVLC's; a file made for it
// fails downstream, at a Concat, under BVLC's rule. Empty otherwise.
std::string pooling_rule_hint(const std::vector<std::unique_ptr<Layer>>& layers, int failed) {
  for (int i = 0; i < failed; ++i) {
    const caffe::LayerParameter& param = layers[i]->param();
    if (param.type() != "Pooling") continue;
    const caffe::PoolingParameter& p = param.pooling_param();
    const std::uint32_t kernel = p.has_kernel_h() ? p.kernel_h() : p.kernel_size();
    const std::uint32_t stride = p.has_stride_h() ? p.stride_h() : p.stride();
    if (p.global_pooling() || p.caffe_yolov3_extra_output() || stride != 1 || kernel % 2 != 0) continue;
    return " (layer '" + param.name() + "' is a stride-1 Pooling with an even kernel, which caffe-yolov3's Caffe "
           "sizes one row and column larger than BVLC's: if the model comes from there, load it with "
           "LoadOptions::pooling_rule = PoolingRule::CAFFE_YOLOV3, --pooling_rule=caffe-yolov3 in the tool)";
  }
  return {};
}

// "layer 'NAME' (TYPE)", as errors name a layer.
std::string describe(const Layer& layer) { return "layer '" + layer.name() + "' (" + layer.type() + ")"; }

// Runs a layer's `step` ("reshape", "prepare"), passing predictor::Error and
// bad_alloc on and turning any other exception (a custom layer's own type)
// into an Error naming the layer and the step.
template <typename Step>
decltype(auto) foreign_exceptions_as_errors(const Layer& layer, const char* step_name, Step&& step) {
  try {
    return step();
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& error) {
    throw Error(describe(layer) + ": " + step_name + " failed: " + error.what());
  }
}

std::string count_range(int min, int max) {
  if (min == max) return "exactly " + std::to_string(min);
  if (max < 0) return "at least " + std::to_string(min);
  return std::to_string(min) + " to " + std::to_string(max);
}

}  // namespace

Net::Net(std::shared_ptr<const Model> model, Device device)
    : Net(model->net(), model, model->source(), device) {}

Net::Net(const caffe::NetParameter& net, std::shared_ptr<const Model> model, const std::string& source,
         Device device)
    : model_(std::move(model)), source_(source), device_(device) {
  try {
    if (device_.is_cuda()) cuda::check_device(device_.id, "device " + device_.to_string());
    Build(net);
    PlaceLayers(net);
  } catch (const Error& error) {
    rethrow_with_context(error, source_);
  }
  if (model_) {
    for (int i = 0; i < num_layers(); ++i) layers_[i]->set_weights(model_->layer_weights(i));
    // Kernel-ready CPU weights come from the model, derived by the first
    // replica whose plan reads them and shared by all (the Model outlives
    // the Net: model_ holds it).
    for (int i = 0; i < num_layers(); ++i) {
      layers_[i]->set_cpu_kernel_weight_source([model = model_.get(), i](const Layer& layer, int form) {
        return model->cpu_kernel_weight(i, layer, form);
      });
    }
  }
  if (std::find(backends_.begin(), backends_.end(), Backend::CUDA) == backends_.end()) return;
  const int gpu = device_.is_cuda() ? device_.id : 0;
  try {
    if (model_) {
      device_weights_ = model_->weights_on_device(gpu);
      for (int i = 0; i < num_layers(); ++i) {
        if (backends_[i] == Backend::CUDA) layers_[i]->set_gpu_weights(device_weights_->layer(i));
      }
    }
    gpu_ = std::make_unique<cuda::StreamContext>(gpu);
  } catch (const Error& error) {
    rethrow_with_context(error, source_ + ": gpu:" + std::to_string(gpu));
  }
  if (std::find(backends_.begin(), backends_.end(), Backend::CPU) == backends_.end()) {
    graph_ = std::make_unique<CapturedForward>();
  }
}

std::unique_ptr<Net> Net::WithoutWeights(const caffe::NetParameter& net, const std::string& source) {
  return std::unique_ptr<Net>(new Net(net, nullptr, source, Device::cpu()));
}

void Net::PlaceLayers(const caffe::NetParameter& net) {
  for (int i = 0; i < num_layers(); ++i) {
    const Layer& layer = *layers_[i];
    const std::string& ctx = net.layer(i).ctx();
    Backend backend = main_backend();
    if (ctx == "cpu") {
      backend = Backend::CPU;
    } else if (ctx == "gpu") {
      backend = Backend::CUDA;
      if (!layer.supports_gpu()) layer.fail("ctx", "\"gpu\": this layer type has no CUDA implementation");
      if (!device_.is_cuda()) cuda::check_device(0, "layer '" + layer.name() + "': ctx: \"gpu\" (gpu:0)");
    } else if (!ctx.empty()) {
      layer.fail("ctx", "'" + ctx + "' is not a placement (expected \"cpu\" or \"gpu\")");
    } else if (backend == Backend::CUDA && !layer.supports_gpu()) {
      backend = Backend::CPU;  // no CUDA implementation: runs on the host, data moved across
    }
    backends_.push_back(backend);
  }
  scratch_bytes_.assign(layers_.size(), 0);
}

Net::~Net() = default;

void Net::Build(const caffe::NetParameter& net) {
  const LayerRegistry& registry = LayerRegistry::global();
  std::map<std::string, std::string> producer_of;  // blob -> the layer that last wrote it
  std::vector<std::string> unconsumed;             // candidate outputs, in production order
  std::vector<Blob*> input_storage;                // caller-owned blobs: never written in place

  auto new_blob = [&](const std::string& name) {
    blobs_.push_back(std::make_unique<Blob>());
    Blob* blob = blobs_.back().get();
    if (!blob_by_name_.count(name)) blob_names_.push_back(name);
    blob_by_name_[name] = blob;
    return blob;
  };

  for (const caffe::LayerParameter& param : net.layer()) {
    std::unique_ptr<Layer> layer = registry.create(param);
    const auto check_count = [&](const char* what, int n, int min, int max) {
      if (n < min || (max >= 0 && n > max)) {
        layer->fail(what, std::string("takes ") + count_range(min, max) + " " + what + "s, " +
                              std::to_string(n) + " given");
      }
    };
    check_count("bottom", param.bottom_size(), layer->min_bottoms(), layer->max_bottoms());
    check_count("top", param.top_size(), layer->min_tops(), layer->max_tops());

    std::vector<const Blob*> bottoms;
    for (const std::string& name : param.bottom()) {
      auto it = blob_by_name_.find(name);
      if (it == blob_by_name_.end()) {
        layer->fail("bottom", "'" + name + "' is not produced by an earlier layer or a net input");
      }
      bottoms.push_back(it->second);
      unconsumed.erase(std::remove(unconsumed.begin(), unconsumed.end(), name), unconsumed.end());
    }

    std::vector<Blob*> tops;
    for (int j = 0; j < param.top_size(); ++j) {
      const std::string& name = param.top(j);
      const bool in_place = j < param.bottom_size() && param.bottom(j) == name;
      if (in_place) {
        if (!layer->allows_in_place()) {
          layer->fail("top", "'" + name + "' names its own bottom (in-place), which this layer type cannot do");
        }
        Blob* blob = blob_by_name_[name];
        // Writing in place into a caller's input (or a view of one) would
        // change the caller's data: give the layer a blob of its own under
        // the same name.
        if (std::find(input_storage.begin(), input_storage.end(), blob) != input_storage.end()) {
          blob = new_blob(name);
        }
        tops.push_back(blob);
      } else {
        if (blob_by_name_.count(name)) {
          layer->fail("top", "'" + name + "' is already produced by layer '" + producer_of[name] +
                                 "' (only an in-place top, named like the bottom at the same index, may reuse a name)");
        }
        tops.push_back(new_blob(name));
      }
      producer_of[name] = param.name();
      unconsumed.erase(std::remove(unconsumed.begin(), unconsumed.end(), name), unconsumed.end());
      unconsumed.push_back(name);
    }

    if (param.type() == "Input") {
      for (int j = 0; j < param.top_size(); ++j) {
        std::vector<int> shape;
        if (j < param.input_param().shape_size()) {
          const auto& dims = param.input_param().shape(j).dim();
          shape = checked_shape({dims.begin(), dims.end()},
                                "layer '" + param.name() + "' (Input): input_param.shape[" + std::to_string(j) + "]");
        }
        tops[j]->Reshape(shape);
        input_blobs_.push_back(tops[j]);
        input_names_.push_back(param.top(j));
        input_storage.push_back(tops[j]);
      }
    }

    // A view of the caller's memory is the caller's memory too.
    for (int j = 0; j < param.top_size(); ++j) {
      const int shared = layer->top_shares_bottom(j);
      if (shared >= 0 && std::find(input_storage.begin(), input_storage.end(), bottoms[shared]) != input_storage.end()) {
        input_storage.push_back(tops[j]);
      }
    }

    layers_.push_back(std::move(layer));
    bottoms_.push_back(std::move(bottoms));
    tops_.push_back(std::move(tops));
    bottom_names_.emplace_back(param.bottom().begin(), param.bottom().end());
    top_names_.emplace_back(param.top().begin(), param.top().end());
  }

  for (const std::string& name : unconsumed) {
    output_names_.push_back(name);
    output_blobs_.push_back(blob_by_name_[name]);
  }
  if (input_blobs_.empty()) throw Error("the net has no inputs (no Input layer, input field or data layer)");
  MarkChannelReaders();
}

void Net::MarkChannelReaders() {
  // The later layers that read each blob (a layer writing it in place reads
  // it too).
  struct Readers {
    std::vector<int> layers;  // in order
    // Whether layers[k] and every reader after it split the blob by
    // channels (one more entry, true, past the last): an in-place chain
    // shares one blob, whose later readers each of its layers would
    // otherwise go through (quadratic in the chain's length).
    std::vector<char> by_channels_from;
  };
  std::map<const Blob*, Readers> readers;
  for (int i = 0; i < num_layers(); ++i) {
    for (const Blob* bottom : bottoms_[i]) readers[bottom].layers.push_back(i);
  }
  for (auto& [blob, r] : readers) {
    r.by_channels_from.assign(r.layers.size() + 1, true);
    for (std::size_t k = r.layers.size(); k-- > 0;) {
      r.by_channels_from[k] = r.by_channels_from[k + 1] && layers_[r.layers[k]]->splits_bottom_by_channels();
    }
  }
  for (int i = 0; i < num_layers(); ++i) {
    bool by_channels = !tops_[i].empty();
    for (const Blob* top : tops_[i]) {
      const auto it = readers.find(top);
      if (it == readers.end()) {
        by_channels = false;  // no later reader
        continue;
      }
      const Readers& r = it->second;
      const std::size_t first_later = std::upper_bound(r.layers.begin(), r.layers.end(), i) - r.layers.begin();
      by_channels = by_channels && first_later < r.layers.size() && r.by_channels_from[first_later];
    }
    layers_[i]->set_tops_read_by_channels(by_channels);
  }
  // The layer that last wrote each blob so far (in place layers write it
  // again).
  std::map<const Blob*, int> writer;
  for (int i = 0; i < num_layers(); ++i) {
    bool written_by_channels = false;
    if (!bottoms_[i].empty()) {
      const auto w = writer.find(bottoms_[i][0]);
      written_by_channels = w != writer.end() && layers_[w->second]->splits_top_by_channels();
    }
    layers_[i]->set_bottom_written_by_channels(written_by_channels);
    for (const Blob* top : tops_[i]) writer[top] = i;
  }
}

void Net::EnableMemoryPlanning(const std::string& strategy, const std::vector<std::string>& keep_blobs) {
  for (const auto& name : keep_blobs) {
    if (!blob(name)) throw Error(source_ + ": no blob named '" + name + "' to keep");
  }
  auto replacement = std::make_unique<memory::ActivationMemory>(strategy, keep_blobs);
  replacement->SetExtraKept(extra_kept_);
  // The blobs still point into the current plan's storage: it stays until
  // the next Reshape has placed them in the new one (a plan never applied
  // holds none and simply goes).
  if (!replaced_memory_) replaced_memory_ = std::move(activation_memory_);
  activation_memory_ = std::move(replacement);
  reshaped_ = false;  // the next Forward plans
}

void Net::KeepBlobs(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (!blob(name)) throw Error(source_ + ": no blob named '" + name + "'");
  }
  extra_kept_ = names;
  if (activation_memory_ && activation_memory_->SetExtraKept(names)) plan_stale_ = true;
}

void Net::SetLimits(const ReplicaLimits& limits) {
  if (std::isnan(limits.max_multiply_adds)) {
    throw Error(source_ + ": ReplicaLimits::max_multiply_adds is NaN, which no forward would exceed");
  }
  limits_ = limits;
  reshaped_ = false;  // the next Forward checks the current shapes against them
}

void Net::SetComputeThreads(int threads) {
  if (threads < 1 || threads > PredictorOptions::kMaxComputeThreads) {
    throw Error(source_ + ": compute threads must be 1 to " + std::to_string(PredictorOptions::kMaxComputeThreads) +
                ", not " + std::to_string(threads));
  }
  if (threads == compute_threads()) return;
  compute_pool_.reset();  // the old threads stop before the new ones start (unless held awake)
  if (threads > 1) compute_pool_ = std::make_shared<cpu::ThreadPool>(threads);
  for (const auto& layer : layers_) layer->set_compute_threads(threads);
  reshaped_ = false;  // plans (and their scratch) may depend on the thread count
}

int Net::compute_threads() const { return compute_pool_ ? compute_pool_->size() : 1; }

const MemoryStats* Net::memory_stats() const {
  return activation_memory_ && reshaped_ ? &activation_memory_->stats() : nullptr;
}

std::string Net::MemoryPlanSvg(const std::string& title) const {
  if (!activation_memory_ || !reshaped_) return {};
  std::vector<std::string> steps;
  for (const auto& layer : layers_) steps.push_back(layer->name());
  return memory::render_plan_svg(activation_memory_->requests(), activation_memory_->plan(), steps, title);
}

Blob* Net::blob(const std::string& name) const {
  auto it = blob_by_name_.find(name);
  return it == blob_by_name_.end() ? nullptr : it->second;
}

bool Net::InputShapesChanged() const {
  for (std::size_t i = 0; i < input_blobs_.size(); ++i) {
    if (input_blobs_[i]->shape() != reshaped_input_shapes_[i]) return true;
  }
  return false;
}

void Net::Reshape() {
  // Until this one completes, the next Forward reshapes again: a failure
  // half way (a bad shape, a budget, memory) leaves nothing half-applied
  // that a later call would trust.
  reshaped_ = false;
  ++memory_generation_;
  try {
    cuda::DeviceGuard guard(gpu_ ? gpu_->device() : -1);
    for (int i = 0; i < num_layers(); ++i) {
      try {
        foreign_exceptions_as_errors(*layers_[i], "reshape", [&] { layers_[i]->reshape(bottoms_[i], tops_[i]); });
      } catch (const Error& error) {
        if (dynamic_cast<const OutOfMemoryError*>(&error)) throw;
        throw Error(error.what() + pooling_rule_hint(layers_, i));
      }
      // A top never shaped (no axes and no values; a 0-axis blob holds one)
      // would read as empty downstream: a layer's mistake, said here.
      for (std::size_t t = 0; t < tops_[i].size(); ++t) {
        if (tops_[i][t]->num_axes() == 0 && tops_[i][t]->count() == 0) {
          throw Error(describe(*layers_[i]) + ": its reshape left top '" + top_names_[i][t] + "' unshaped");
        }
      }
      ShareViews(i);
      scratch_bytes_[i] = foreign_exceptions_as_errors(*layers_[i], "prepare", [&] {
        return backends_[i] == Backend::CUDA ? layers_[i]->prepare_gpu(bottoms_[i], tops_[i])
                                             : layers_[i]->prepare_cpu(bottoms_[i], tops_[i]);
      });
    }
    if (gpu_) gpu_->Synchronize();  // no queued work may still use memory about to move
    PlanCopyElision();
    CheckLimits();
    if (activation_memory_) {
      ApplyMemoryPlan();
    } else {
      PlaceAliasesInRoots();
    }
    EnsureScratch();
  } catch (const Error& error) {
    rethrow_with_context(error, source_);
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError(source_ + ": out of memory while shaping the net for its inputs");
  }
  reshaped_input_shapes_.clear();
  for (const Blob* input : input_blobs_) reshaped_input_shapes_.push_back(input->shape());
  reshaped_ = true;
}

void Net::ApplyMemoryPlan() {
  std::vector<Blob*> all;
  for (const auto& blob : blobs_) all.push_back(blob.get());
  activation_memory_->Apply(*this, all, limits_.max_bytes);
  replaced_memory_.reset();  // no blob points into it any more
  plan_stale_ = false;
  ++memory_generation_;
}

void Net::CheckLimits() const {
  double multiply_adds = 0;
  for (int i = 0; i < num_layers(); ++i) multiply_adds += layers_[i]->forward_multiply_adds(bottoms_[i], tops_[i]);
  if (multiply_adds > limits_.max_multiply_adds) {
    throw Error("a forward at these input shapes is about " + std::to_string(multiply_adds) +
                " multiply-adds, over the limit of " + std::to_string(limits_.max_multiply_adds) +
                " (ReplicaLimits::max_multiply_adds)");
  }
  if (activation_memory_) return;
  const memory::NetRequests requests = memory::collect_net_requests(*this, {});
  std::size_t bytes = 0, scratch = 0;
  for (std::size_t r = 0; r < requests.ranges.size(); ++r) {
    if (requests.scratch_layer[r] >= 0) {
      scratch = std::max(scratch, requests.ranges[r].bytes);  // one scratch buffer, shared
    } else {
      bytes += requests.ranges[r].bytes;
    }
  }
  memory::check_replica_bytes(bytes + scratch, limits_.max_bytes, requests);
}

void Net::EnableCopyElision(bool enable) {
  copy_elision_ = enable;
  reshaped_ = false;  // the next Forward decides
}

void Net::PlanCopyElision() {
  // Blobs placed at the previous shapes get storage of their own back (lazily
  // allocated; planning places them anew): they may not be placed now.
  for (const StorageAlias& alias : aliases_) {
    Blob* blob = const_cast<Blob*>(alias.blob);  // one of the Net's own blobs
    blob->set_data(std::make_shared<SyncedMemory>(blob->count() * sizeof(float)), blob->count());
  }
  aliases_.clear();
  elided_.clear();
  if (!copy_elision_) return;
  CopyElisionPlan plan = plan_copy_elision(*this);
  elided_ = std::move(plan.elided);
  aliases_ = std::move(plan.aliases);
}

void Net::PlaceAliasesInRoots() {
  const bool on_device = main_backend() == Backend::CUDA;
  for (const StorageAlias& alias : aliases_) {
    SyncedMemory& root = *alias.root->data();
    char* base = static_cast<char*>(on_device ? root.overwrite_gpu_data() : root.mutable_cpu_data());
    Blob* blob = const_cast<Blob*>(alias.blob);  // one of the Net's own blobs
    auto storage = std::make_shared<SyncedMemory>(blob->count() * sizeof(float));
    if (on_device) {
      storage->set_gpu_data(base + alias.offset_bytes);
    } else {
      storage->set_cpu_data(base + alias.offset_bytes);
    }
    blob->set_data(std::move(storage), blob->count());
  }
}

void Net::ShareViews(int i) {
  for (std::size_t j = 0; j < tops_[i].size(); ++j) {
    const int shared = layers_[i]->top_shares_bottom(static_cast<int>(j));
    if (shared >= 0) tops_[i][j]->ShareData(*bottoms_[i][shared]);
  }
}

void Net::EnsureScratch() {
  // One buffer per backend, shared by its layers (they run one at a time);
  // with planning, the main backend's scratch is in the arena instead.
  std::size_t host_bytes = 0, device_bytes = 0;
  for (int i = 0; i < num_layers(); ++i) {
    if (activation_memory_ && backends_[i] == main_backend()) continue;
    std::size_t& bytes = backends_[i] == Backend::CUDA ? device_bytes : host_bytes;
    bytes = std::max(bytes, scratch_bytes_[i]);
  }
  if (host_bytes > 0 && (!scratch_ || scratch_->size() < host_bytes)) {
    scratch_ = std::make_shared<SyncedMemory>(host_bytes);
  }
  if (device_bytes > 0 && (!gpu_scratch_ || gpu_scratch_->size() < device_bytes)) {
    auto scratch = std::make_shared<SyncedMemory>(device_bytes);
    scratch->overwrite_gpu_data();  // allocated now, never during a forward
    gpu_scratch_ = std::move(scratch);
  }
}

void* Net::cuda_stream() const { return gpu_ ? gpu_->stream() : nullptr; }

void Net::Synchronize() const {
  if (gpu_) gpu_->Synchronize();
}

void Net::SynchronizeQuietly() const {
  try {
    Synchronize();
  } catch (const Error&) {
    // Reporting the first error matters more than this one.
  }
}

void Net::EnableCudaGraphs(bool enable) {
  if (graph_) graph_->set_enabled(enable);
}

void Net::SetPrecision(Precision precision) {
  if (precision == precision_) return;
  if (precision != Precision::FP32 && !gpu_) {
    throw Error(source_ + ": precision " + precision_name(precision) + " needs a net with layers on a CUDA device");
  }
  precision_ = precision;
  for (auto& layer : layers_) layer->set_gpu_precision(precision);
  reshaped_ = false;  // the layers choose their kernels again
}

bool Net::cuda_graph_active() const { return graph_ && graph_->replayed(); }

void Net::Forward() {
  cuda::DeviceGuard guard(gpu_ ? gpu_->device() : -1);
  if (!reshaped_ || InputShapesChanged()) {
    Reshape();
  } else {
    // A caller may have pointed an input at new memory: refresh the views.
    for (int i = 0; i < num_layers(); ++i) ShareViews(i);
    if (plan_stale_) {
      try {
        ApplyMemoryPlan();
      } catch (const Error& error) {
        reshaped_ = false;
        rethrow_with_context(error, source_);
      }
    }
  }
  if (!graph_) {
    try {
      ForwardAllLayers();
    } catch (...) {
      if (gpu_) SynchronizeQuietly();
      throw;
    }
    Synchronize();
    return;
  }
  // Every layer on the GPU: the forward may be a replayed graph. Inputs
  // are pushed outside it (their host data changes between calls).
  // graph_inputs_ is a member so that a replayed forward allocates nothing.
  graph_inputs_.clear();
  for (Blob* input : input_blobs_) {
    input->data()->async_gpu_push(gpu_->stream());
    graph_inputs_.push_back(input->data()->gpu_data());
  }
  try {
    graph_->Run(gpu_->stream(), memory_generation_, graph_inputs_, [this] { ForwardAllLayers(); });
  } catch (...) {
    SynchronizeQuietly();
    throw;
  }
  if (graph_->replayed()) {
    // A replay writes the same tops the captured layers did: their device
    // copies are current again.
    for (const auto& tops : tops_) {
      for (Blob* top : tops) {
        if (!is_input_storage(top)) top->data()->overwrite_gpu_data();
      }
    }
  }
  Synchronize();
}

void Net::ForwardAllLayers() {
  const ComputeThreadsAwake awake(*this);
  for (int i = 0; i < num_layers(); ++i) ForwardLayer(i);
}

Net::ComputeThreadsAwake::ComputeThreadsAwake(const Net& net) : pool_(net.compute_pool_) {
  if (pool_) pool_->hold();
}

Net::ComputeThreadsAwake::~ComputeThreadsAwake() {
  if (pool_) pool_->release();
}

void Net::MoveBlobsFor(int i) {
  if (!gpu_) return;  // a CPU net: everything is on the host already
  const auto is_bottom = [&](const SyncedMemory* storage) {
    for (const Blob* bottom : bottoms_[i]) {
      if (bottom->data().get() == storage) return true;
    }
    return false;
  };
  // Tops the layer writes in full: not in place, not a view, not a net
  // input (an Input layer's tops hold the caller's data).
  const auto written = [&](const Blob* top) { return !is_bottom(top->data().get()) && !is_input_storage(top); };
  if (backends_[i] == Backend::CUDA) {
    for (const Blob* bottom : bottoms_[i]) bottom->data()->async_gpu_push(gpu_->stream());
    for (Blob* top : tops_[i]) {
      if (written(top)) top->data()->overwrite_gpu_data();
    }
    return;
  }
  bool pulled = false;
  for (const Blob* bottom : bottoms_[i]) pulled |= bottom->data()->async_cpu_pull(gpu_->stream());
  if (pulled) gpu_->Synchronize();
  for (Blob* top : tops_[i]) {
    if (written(top)) top->data()->overwrite_cpu_data();
  }
}

bool Net::is_input_storage(const Blob* blob) const {
  for (const Blob* input : input_blobs_) {
    if (input->data() == blob->data()) return true;
  }
  return false;
}

int Net::layer_index(int i) const {
  if (i < 0 || i >= num_layers()) {
    throw Error(source_ + ": layer index " + std::to_string(i) + " is out of range: the net has " +
                std::to_string(num_layers()) + " layers");
  }
  return i;
}

void Net::ForwardLayer(int i) {
  const Layer& layer = *layers_[layer_index(i)];
  if (!reshaped_) {
    throw Error(source_ + ": ForwardLayer(" + std::to_string(i) +
                "): the net's shapes and plan are not current (call Reshape() or Forward() first)");
  }
  try {
    cuda::DeviceGuard guard(gpu_ ? gpu_->device() : -1);
    MoveBlobsFor(i);
    if (copy_elided(i)) return;  // its parts already live in place
    ForwardContext context;
    if (scratch_bytes_[i] > 0) {
      if (activation_memory_ && backends_[i] == main_backend()) {
        context.scratch = activation_memory_->scratch(i);
      } else if (backends_[i] == Backend::CUDA) {
        context.scratch = gpu_scratch_->overwrite_gpu_data();
      } else {
        context.scratch = scratch_->mutable_cpu_data();
      }
    }
    if (backends_[i] == Backend::CUDA) {
      context.device = gpu_->device();
      context.cuda_stream = gpu_->stream();
      context.cublas = gpu_->blas();
      layers_[i]->forward_gpu(bottoms_[i], tops_[i], context);
    } else {
      context.pool = compute_pool_.get();
      layers_[i]->forward_cpu(bottoms_[i], tops_[i], context);
    }
  } catch (const Error& error) {
    // Allocation failures (lazily allocated tops, scratch) and CUDA errors
    // (a failed launch, a copy) are the layer's: name it, and the device.
    if (std::string(error.what()).find("layer '" + layer.name() + "'") == std::string::npos &&
        (backends_[i] == Backend::CUDA || dynamic_cast<const OutOfMemoryError*>(&error))) {
      const std::string where = backends_[i] == Backend::CUDA ? " on gpu:" + std::to_string(gpu_->device()) : "";
      rethrow_with_context(error, source_ + ": " + describe(layer) + where);
    }
    rethrow_with_context(error, source_);
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError(source_ + ": " + describe(layer) + ": out of memory");
  } catch (const std::exception& error) {  // a custom layer's own exception type
    throw Error(source_ + ": " + describe(layer) + ": forward failed: " + error.what());
  }
}

}  // namespace predictor
