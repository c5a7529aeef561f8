#pragma once
// The object a service creates once per model and calls from any number of
// threads at once:
//
//   auto p = std::make_unique<predictor::Predictor>("deploy.prototxt", "w.caffemodel",
//                                                   predictor::Optimization::MEMORY);
//   // in any worker thread, concurrently
//   thread_local predictor::Blob input;
//   input.Reshape({1, 3, 224, 224});
//   input.set_cpu_data(image_ptr);               // zero copy
//   const auto& outputs = p->forward({&input});
//   const predictor::Blob* prob = outputs.at("prob");
//
// Each calling thread gets its own replica of the net (activations and
// scratch memory), created on its first forward() and released when the
// thread exits or the Predictor is destroyed. All replicas share ONE copy of
// the weights: a replica allocates no parameter memory and runs no filler.
//
// On a GPU (PredictorOptions::device = Device::cuda(N), or several devices
// in PredictorOptions::devices): the constructor uploads the weights to
// each device, once, and every replica on that device reads that copy. A
// replica lives on one device (new replicas take the devices in turn) and
// owns a CUDA stream; all of its forward's copies and kernels run on that
// stream, and forward() returns once the stream has finished, so outputs
// are complete when it returns. Layers without a CUDA implementation, or
// pinned with `ctx: "cpu"`, run on the host with their data moved across.
//
// With Optimization::GRAPH the constructor optimizes the model once (see
// PredictorOptions.h) and every replica runs the optimized one; the Model
// passed in is not changed, and model() is the optimized one.

#include "predictor/Export.h"
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "predictor/Blob.h"
#include "predictor/Error.h"
#include "predictor/MemoryStats.h"
#include "predictor/Model.h"
#include "predictor/PredictorOptions.h"

namespace predictor::caffe {
class NetParameter;
}

namespace predictor {

class Net;
class ReplicaSet;

class PREDICTOR_API Predictor {
 public:
  // Loads a .prototxt and a .caffemodel. Throws predictor::Error naming the
  // file, layer and field on any problem with them.
  Predictor(const std::string& prototxt_path, const std::string& caffemodel_path,
            Optimization optimization = Optimization::NONE);
  Predictor(const std::string& prototxt_path, const std::string& caffemodel_path,
            const PredictorOptions& options);
  // From prototxt text and .caffemodel bytes held in memory.
  static std::unique_ptr<Predictor> FromStrings(const std::string& prototxt_text,
                                                const std::string& caffemodel_bytes,
                                                const PredictorOptions& options = {});
  // From a parsed definition and parsed weights (a NetParameter whose layers
  // carry blobs, matched by layer name).
  Predictor(const caffe::NetParameter& net, const caffe::NetParameter& weights,
            const PredictorOptions& options = {});
  // From a loaded Model, which may be shared with other predictors.
  explicit Predictor(std::shared_ptr<const Model> model, const PredictorOptions& options = {});

  // Destroying a predictor releases every replica, including those of
  // threads that are still alive (they get a new replica only from another
  // predictor). No forward() may be running on it.
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  // Runs the net on `inputs` (one blob per net input, in input_names()
  // order; shapes may change from call to call, the batch size included).
  // The inputs are read, never written, and must stay alive until the call
  // returns. On the CPU they are used in place. On a GPU, an input whose
  // data is current on the replica's device (set_gpu_data, or a blob a GPU
  // wrote there) is read in place, zero copy; any other input is copied on
  // the calling thread into the replica's pinned staging memory, then to the
  // device on the replica's stream (the caller's blob gets no device copy).
  //
  // Returns name -> blob for the net outputs and the extra_outputs. The map
  // and the blobs belong to the calling thread's replica: they stay valid,
  // and their contents unchanged, until this thread's next forward() on this
  // predictor, the thread's exit, or the predictor's destruction. On a GPU
  // they are complete on the device when forward() returns: gpu_data()
  // reads them in place (a pointer into the replica's device memory, valid
  // as long as the blob), cpu_data() copies them to the host on first use.
  //
  // Thread-safe: any number of threads may call it concurrently.
  const std::map<std::string, const Blob*>& forward(const std::vector<Blob*>& inputs);

  // As above, returning the named blobs (outputs or any other blob of the
  // net, as after the whole forward: an in-place layer's blob holds its last
  // writer's value, as in Caffe) in order. A name the net does not have is
  // an error, raised before anything runs. With Optimization::MEMORY the
  // named blobs are kept out of storage sharing for this call (the replica
  // plans once per set of names and caches it), so every returned blob
  // holds its own value, bitwise the same as without the optimisation.
  // With Optimization::GRAPH only the net inputs, the net outputs and the
  // extra_outputs may be named: any other blob of the original net may have
  // been folded away or now hold another value, and naming it is an error
  // that names the blob and says to list it in extra_outputs.
  std::vector<const Blob*> forward(const std::vector<Blob*>& inputs, const std::vector<std::string>& output_names);

  // Raw input data: one pointer and shape per net input, read in place.
  struct Input {
    const float* data;
    std::vector<int> shape;
  };
  const std::map<std::string, const Blob*>& forward(const std::vector<Input>& inputs);

  // The net's input and output names (thread-safe, constant).
  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  // Declared shape of each input (from the model file).
  const std::vector<std::vector<int>>& input_shapes() const { return input_shapes_; }

  // The model the replicas run: with Optimization::GRAPH the optimized one
  // (fewer layers; the caller's Model is left as it was), else the one
  // given or loaded.
  const Model& model() const { return *model_; }
  std::shared_ptr<const Model> shared_model() const { return model_; }
  const PredictorOptions& options() const { return options_; }
  // With Optimization::GRAPH: what each pass of the optimizer did, in the
  // order they ran; empty without it.
  struct GraphPassReport {
    std::string pass;
    int rewrites = 0;
    int layers_before = 0;
    int layers_after = 0;
  };
  const std::vector<GraphPassReport>& graph_report() const { return graph_report_; }
  // Replicas alive now: one per thread that has called forward() and not
  // exited. Thread-safe.
  std::size_t replica_count() const;
  // With Optimization::MEMORY: the figures of the calling thread's replica's
  // plan at its last input shape; null before its first forward() or
  // without the optimisation. Valid until this thread's next forward().
  const MemoryStats* memory_stats() const;

 private:
  void Init();
  Net& replica();

  std::shared_ptr<const Model> model_;
  PredictorOptions options_;
  std::vector<std::string> input_names_;
  std::vector<std::string> output_names_;
  std::vector<std::vector<int>> input_shapes_;
  std::vector<GraphPassReport> graph_report_;
  // With Optimization::GRAPH: every blob name of the model before the
  // optimization, to tell a folded name from an unknown one.
  std::vector<std::string> original_blob_names_;
  std::shared_ptr<ReplicaSet> replicas_;
};

}  // namespace predictor
