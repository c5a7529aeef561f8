#include "predictor/Predictor.h"

#include <algorithm>
#include <atomic>
#include <new>
#include <stdexcept>

#include "cuda/cuda_api.h"
#include "graph/optimizer.h"
#include "memory/planner.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Net.h"
#include "runtime/replica_set.h"

namespace predictor {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// Every blob name of `net` (deploy form: the net inputs are Input layers'
// tops), sorted, once each.
std::vector<std::string> blob_names(const caffe::NetParameter& net) {
  std::vector<std::string> names;
  for (const auto& layer : net.layer()) names.insert(names.end(), layer.top().begin(), layer.top().end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

PredictorOptions with_optimization(Optimization optimization) {
  PredictorOptions options;
  options.optimization = optimization;
  return options;
}

}  // namespace

Predictor::Predictor(const std::string& prototxt_path, const std::string& caffemodel_path, Optimization optimization)
    : Predictor(prototxt_path, caffemodel_path, with_optimization(optimization)) {}

Predictor::Predictor(const std::string& prototxt_path, const std::string& caffemodel_path,
                     const PredictorOptions& options)
    : model_(Model::FromFiles(prototxt_path, caffemodel_path, options.load)), options_(options) {
  Init();
}

std::unique_ptr<Predictor> Predictor::FromStrings(const std::string& prototxt_text, const std::string& caffemodel_bytes,
                                                  const PredictorOptions& options) {
  return std::make_unique<Predictor>(Model::FromStrings(prototxt_text, caffemodel_bytes, options.load), options);
}

namespace {

// The options that nothing else would look at (a strategy without MEMORY, a
// flag of no meaning): each a mistake of the caller's, named before anything
// is made. The replica's own settings (the limits) are refused by the probe.
void check_options(const PredictorOptions& options, const std::string& source) {
  if (options.compute_threads < 1 || options.compute_threads > PredictorOptions::kMaxComputeThreads) {
    throw Error(source + ": PredictorOptions::compute_threads must be 1 to " +
                std::to_string(PredictorOptions::kMaxComputeThreads) + ", not " +
                std::to_string(options.compute_threads));
  }
  const unsigned optimization = static_cast<unsigned>(options.optimization);
  const unsigned known = static_cast<unsigned>(Optimization::MEMORY) | static_cast<unsigned>(Optimization::GRAPH);
  if ((optimization & ~known) != 0) {
    throw Error(source + ": PredictorOptions::optimization: " + std::to_string(optimization) +
                " holds bits that are no Optimization flag (MEMORY = 1, GRAPH = 2)");
  }
  if (!options.memory_strategy.empty()) {
    try {
      memory::make_planner(options.memory_strategy);
    } catch (const std::invalid_argument& error) {
      throw Error(source + ": PredictorOptions::memory_strategy: " + error.what());
    }
  }
}

}  // namespace

Predictor::Predictor(const caffe::NetParameter& net, const caffe::NetParameter& weights,
                     const PredictorOptions& options)
    : model_(Model::FromNetParameter(net, weights, options.load)), options_(options) {
  Init();
}

Predictor::Predictor(std::shared_ptr<const Model> model, const PredictorOptions& options)
    : model_(std::move(model)), options_(options) {
  if (!model_) throw Error("Predictor: null model");
  Init();
}

Predictor::~Predictor() = default;

void Predictor::Init() {
  check_options(options_, model_->source());
  std::vector<Device> devices = options_.devices.empty() ? std::vector<Device>{options_.device} : options_.devices;
  for (const Device& device : devices) {
    if (device.is_cuda()) cuda::check_device(device.id, model_->source() + ": Predictor: device " + device.to_string());
    if (!device.is_cuda() && options_.precision != Precision::FP32) {
      throw Error(model_->source() + ": PredictorOptions::precision " + precision_name(options_.precision) +
                  " applies only to CUDA devices, and " + device.to_string() + " is among the devices");
    }
  }

  if (has(options_.optimization, Optimization::GRAPH)) {
    // Once, for every replica; the caller's model stays as it is. The
    // extra outputs are checked here, against the net as written, so that a
    // misspelt name reads the same with and without the optimization.
    original_blob_names_ = blob_names(model_->net());
    for (const auto& name : options_.extra_outputs) {
      if (!std::binary_search(original_blob_names_.begin(), original_blob_names_.end(), name)) {
        throw Error(model_->source() + ": extra output '" + name + "': the net has no blob of that name");
      }
    }
    graph::OptimizeOptions graph_options;
    graph_options.keep = options_.extra_outputs;
    graph::OptimizedModel optimized = graph::optimize(*model_, graph_options);
    for (const graph::PassReport& pass : optimized.report) {
      graph_report_.push_back({pass.pass, pass.rewrites, pass.layers_before, pass.layers_after});
    }
    model_ = std::move(optimized.model);
  }

  // A replica made here, and dropped, validates the options against the net
  // and gives the names; replicas for callers are made on their threads.
  // Making one per device also uploads the weights to each device, now,
  // once (Model::weights_on_device), never lazily from worker threads.
  for (std::size_t d = 1; d < devices.size(); ++d) Net on_device(model_, devices[d]);
  Net probe(model_, devices[0]);
  input_names_ = probe.input_names();
  for (const Blob* input : probe.input_blobs()) input_shapes_.push_back(input->shape());
  output_names_ = probe.output_names();
  for (const auto& name : options_.extra_outputs) {
    if (probe.blob(name) == nullptr) {
      throw Error(model_->source() + ": extra output '" + name + "': the net has no blob of that name");
    }
    if (!contains(output_names_, name)) output_names_.push_back(name);
  }

  const bool plan_memory = has(options_.optimization, Optimization::MEMORY);
  // What every replica will be told, told to the probe first: a setting it
  // refuses (a NaN budget) is an error here, not on a caller's thread.
  probe.SetLimits(options_.limits);
  auto next_device = std::make_shared<std::atomic<std::size_t>>(0);
  replicas_ = std::make_shared<ReplicaSet>([model = model_, outputs = output_names_, plan_memory,
                                            strategy = options_.memory_strategy, keep = options_.extra_outputs,
                                            limits = options_.limits, devices, next_device,
                                            graphs = options_.cuda_graphs, compute_threads = options_.compute_threads,
                                            precision = options_.precision,
                                            elide = has(options_.optimization, Optimization::GRAPH)] {
    auto replica = std::make_unique<Replica>();
    const Device device = devices[next_device->fetch_add(1) % devices.size()];
    replica->net = std::make_unique<Net>(model, device);
    replica->net->EnableCudaGraphs(graphs);
    replica->net->SetPrecision(precision);
    replica->net->EnableCopyElision(elide);
    replica->net->SetLimits(limits);
    replica->net->SetComputeThreads(compute_threads);  // the replica's own pool, started now
    if (plan_memory) replica->net->EnableMemoryPlanning(strategy, keep);
    for (const auto& name : outputs) replica->outputs[name] = replica->net->blob(name);
    replica->raw_inputs.resize(replica->net->input_blobs().size());
    replica->staged_inputs.resize(replica->net->input_blobs().size());
    return replica;
  });
}

std::size_t Predictor::replica_count() const { return replicas_->size(); }

const MemoryStats* Predictor::memory_stats() const {
  const Replica* replica = replicas_->find_local();
  return replica ? replica->net->memory_stats() : nullptr;
}

namespace {

// Runs `body`, turning an allocation failure outside the Net (a new
// replica, an input blob) into OutOfMemoryError like those inside it.
template <typename Body>
decltype(auto) out_of_memory_as_error(const std::string& source, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError(source + ": forward: out of memory");
  }
}

// Whether `input` is current on the device `net` runs on (device memory
// given with set_gpu_data, or a blob a GPU wrote): then a GPU net reads it in
// place.
bool device_resident(const Blob& input, const Net& net) {
  const SyncedMemory& data = *input.data();
  return data.head() == SyncedMemory::HEAD_AT_GPU && net.device().is_cuda() && data.gpu_device() == net.device().id;
}

void check_input_count(std::size_t given, const std::vector<std::string>& names) {
  if (given != names.size()) {
    throw Error("forward: " + std::to_string(given) + " inputs given, the net takes " + std::to_string(names.size()) +
                " (" + joined(names) + ")");
  }
}

// Makes `input` the replica's net input i (named `name`).
void bind_input(Replica& replica, std::size_t i, const Blob* given, const std::string& name) {
  if (given == nullptr || !given->data()) {
    throw Error("forward: input '" + name + "' is null or has no data (Reshape it first)");
  }
  const Blob& input = *given;
  Net& net = *replica.net;
  Blob* net_input = net.input_blobs()[i];
  net_input->Reshape(input.shape());
  if (net.cuda_stream() == nullptr || device_resident(input, net)) {
    net_input->ShareData(input);  // zero copy: host data for a CPU net, device data on the net's GPU
  } else {
    // Host data for a GPU net: copied into the replica's staging blob
    // (pinned after its first transfer), which the net's stream copies
    // to the device. Sharing the caller's blob instead would give it a
    // device mirror that goes stale when the caller rewrites its memory.
    Blob& staged = replica.staged_inputs[i];
    staged.Reshape(input.shape());
    const float* host = input.cpu_data();
    std::copy(host, host + input.count(), staged.mutable_cpu_data());
    net_input->ShareData(staged);
  }
}

}  // namespace

const std::map<std::string, const Blob*>& Predictor::forward(const std::vector<Blob*>& inputs) {
  return out_of_memory_as_error(model_->source(), [&]() -> const std::map<std::string, const Blob*>& {
    check_input_count(inputs.size(), input_names_);
    Replica& replica = replicas_->local();
    for (std::size_t i = 0; i < inputs.size(); ++i) bind_input(replica, i, inputs[i], input_names_[i]);
    replica.net->Forward();
    return replica.outputs;
  });
}

std::vector<const Blob*> Predictor::forward(const std::vector<Blob*>& inputs,
                                            const std::vector<std::string>& output_names) {
  return out_of_memory_as_error(model_->source(), [&] {
    const bool graph_optimized = has(options_.optimization, Optimization::GRAPH);
    for (const auto& name : output_names) {
      // After the graph optimization only the inputs, the outputs and the
      // extra outputs (all in input_names_ and output_names_) are sure to
      // hold what they held in the net as written.
      if (graph_optimized && !contains(input_names_, name) && !contains(output_names_, name)) {
        if (!std::binary_search(original_blob_names_.begin(), original_blob_names_.end(), name)) {
          throw Error("forward: the net has no blob named '" + name + "'");
        }
        throw Error("forward: blob '" + name +
                    "' is not kept by Optimization::GRAPH (the optimizer may fold it away or compute it in "
                    "place): list it in PredictorOptions::extra_outputs to read it");
      }
    }
    Net& net = *replicas_->local().net;
    std::vector<const Blob*> result;
    result.reserve(output_names.size());
    for (const auto& name : output_names) {
      const Blob* blob = net.blob(name);
      if (blob == nullptr) throw Error("forward: the net has no blob named '" + name + "'");
      result.push_back(blob);
    }
    // With Optimization::MEMORY the requested blobs are kept out of storage
    // sharing for this forward (the replica caches a plan per set of names),
    // so each holds its own value when the call returns.
    net.KeepBlobs(output_names);
    forward(inputs);
    return result;
  });
}

const std::map<std::string, const Blob*>& Predictor::forward(const std::vector<Input>& inputs) {
  return out_of_memory_as_error(model_->source(), [&]() -> const std::map<std::string, const Blob*>& {
    check_input_count(inputs.size(), input_names_);
    Replica& replica = replicas_->local();
    Net& net = *replica.net;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].data == nullptr) throw Error("forward: input '" + input_names_[i] + "' has a null data pointer");
      // Inputs are only read (the Net never writes a net input in place).
      float* data = const_cast<float*>(inputs[i].data);
      if (net.cuda_stream() == nullptr) {
        // A CPU net reads the caller's memory in place: its input blob is
        // pointed at it. After the first such call the blob's storage is its
        // own (no other blob shares it), so re-pointing it allocates nothing.
        Blob* net_input = net.input_blobs()[i];
        net_input->Reshape(inputs[i].shape);
        net_input->set_cpu_data(data);
      } else {
        Blob& wrapper = replica.raw_inputs[i];
        wrapper.Reshape(inputs[i].shape);
        wrapper.set_cpu_data(data);
        bind_input(replica, i, &wrapper, input_names_[i]);
      }
    }
    net.Forward();
    return replica.outputs;
  });
}

}  // namespace predictor
