// early_subsampling: where every reader of a value is a 1x1 Convolution of
// stride s (no padding), only every s-th row and column of the value is
// ever read; the layers that compute it then compute only those positions,
// and the 1x1 readers take stride 1. Caffe's ResNet-50 (and -101, -152)
// ends each stage so: the last block's output is read only by the next
// stage's two 1x1 stride-2 convolutions, and its 3x3 convolution, 1x1
// convolution, sum and ReLU all ran at the full size for a quarter of it
// to be read.
//
// The positions are pushed back from the value through its producers:
//   - an element-wise layer (ReLU, Eltwise, PReLU, Clip, ...: each
//     output from the same position of its inputs) computes them from the
//     same positions of its inputs, each pushed back in turn where the
//     layer is its only reader, else read through a 1x1 average Pooling of
//     stride s (round_mode FLOOR: a copy of every s-th row and column) put
//     in before the layer, or before the first of its other inputs'
//     producers (but after its own input's), so that fuse_residual still
//     finds the shortcut computed first;
//   - a Convolution (2-D) of kernel 1, stride 1 and no padding likewise
//     from its input, where it is that input's only reader;
//   - any other Convolution (2-D, one bottom, no fused residual) takes the
//     stride s times its own: output (i, j) of the new one is output
//     (s i, s j) of the old, the same sum;
// and it stops (nothing is rewritten) at anything else, at a value that is
// kept or read elsewhere (other than through an inserted Pooling), or where
// no convolution would compute fewer positions. An in-place layer whose
// input cannot be pushed back declines too (its input would need a name of
// its own). The results are the original's, position for position: the
// same sums, in the order the kernels choose for the new shapes (a 3x3
// convolution of stride 2 does not take Winograd, so its roundings differ
// from the stride-1 one's by a few ULPs).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "graph/passes/passes.h"
#include "layers/conv_params.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"

namespace predictor::graph {

namespace {

bool is_elementwise(const Node& node) {
  // Not BatchNorm: with batch statistics it averages over the positions.
  static const std::set<std::string> types = {"ReLU",   "Sigmoid", "TanH",      "PReLU", "ELU",
                                              "AbsVal", "BNLL",    "Clip",      "Swish", "Mish",
                                              "Power",  "Exp",     "Threshold", "Log",   "Eltwise"};
  return types.count(node.type()) > 0;
}

// A 2-D Convolution with one bottom and one top and no fused residual, and
// its geometry; false where the layer would reject its parameters.
bool plain_convolution(const Graph& graph, const Node& node, cpu::PatchGeometry* patches) {
  if (node.removed || node.type() != "Convolution" || node.bottoms.size() != 1 || node.tops.size() != 1) {
    return false;
  }
  if (node.param.fused_residual() || node.param.has_fused_pointwise()) return false;
  try {
    const ConvShapes shapes = resolve_conv_shapes(node.param, graph.value(node.bottoms[0]).shape, false);
    if (shapes.geometry.patches.num_axes != 2 || shapes.top_shape != graph.value(node.tops[0]).shape) return false;
    *patches = shapes.geometry.patches;
  } catch (const Error&) {
    return false;
  }
  return true;
}

bool pointwise(const cpu::PatchGeometry& p, int stride) {
  return p.kernel[0] == 1 && p.kernel[1] == 1 && p.pad[0] == 0 && p.pad[1] == 0 && p.stride[0] == stride &&
         p.stride[1] == stride;
}

// What the rewrite of one value changes.
struct Plan {
  struct Strided {
    int node;       // a convolution whose stride is multiplied by s ...
    int stride[2];  // ... from this one
  };
  std::vector<Strided> strided;
  std::vector<int> shrunk;   // values computed at every s-th row and column
  struct Subsample {
    int value;   // read through a Pooling of stride s ...
    int reader;  // ... by this node ...
    int before;  // ... which goes in before this node
  };
  std::vector<Subsample> subsamples;
  int convolutions = 0;  // convolutions computing fewer positions
};

// Plans for value `id` to be computed only at every s-th row and column by
// its producer; false (plan unchanged) where it cannot be.
bool push_back(const Graph& graph, int id, Plan& plan) {
  const Value& value = graph.value(id);
  if (value.kept || value.producer < 0 || value.shape.size() != 4) return false;
  const int producer = value.producer;
  const Node& node = graph.node(producer);
  if (node.removed || node.tops.size() != 1) return false;
  Plan trial = plan;
  cpu::PatchGeometry patches;
  if (plain_convolution(graph, node, &patches)) {
    ++trial.convolutions;
    const int input = node.bottoms[0];
    if (!(pointwise(patches, 1) && graph.only_read_by(input, producer) && push_back(graph, input, trial))) {
      trial.strided.push_back({producer, {patches.stride[0], patches.stride[1]}});
    }
  } else if (is_elementwise(node)) {
    int first_pushed = producer;
    std::vector<int> unpushed;
    for (int b : node.bottoms) {
      if (graph.value(b).shape != value.shape) return false;  // a broadcast
      if (graph.only_read_by(b, producer) && push_back(graph, b, trial)) {
        first_pushed = std::min(first_pushed, graph.value(b).producer);
      } else if (std::find(unpushed.begin(), unpushed.end(), b) == unpushed.end()) {
        // In place over it, the layer would write a name an earlier layer wrote.
        if (graph.value(b).name == value.name) return false;
        unpushed.push_back(b);
      }
    }
    // Each Pooling after its input's producer.
    for (int b : unpushed) {
      trial.subsamples.push_back({b, producer, std::max(first_pushed, graph.value(b).producer + 1)});
    }
  } else {
    return false;
  }
  trial.shrunk.push_back(id);
  plan = std::move(trial);
  return true;
}

// Every reader of `id`: a 1x1 unpadded Convolution of one stride s > 1, the
// same for all; 0 where not.
int readers_stride(const Graph& graph, int id) {
  const Value& value = graph.value(id);
  int stride = 0;
  for (int reader : value.consumers) {
    cpu::PatchGeometry patches;
    if (!plain_convolution(graph, graph.node(reader), &patches)) return 0;
    const int s = patches.stride[0];
    if (s < 2 || (stride != 0 && s != stride) || !pointwise(patches, s)) return 0;
    stride = s;
  }
  return stride;
}

// Sets a 2-D Convolution's stride to (h, w), as one value when they agree.
void set_stride(caffe::ConvolutionParameter* p, int h, int w) {
  p->clear_stride();
  p->clear_stride_h();
  p->clear_stride_w();
  if (h == 1 && w == 1) return;  // the default
  p->add_stride(h);
  if (w != h) p->add_stride(w);
}

std::string unused_name(const Graph& graph, const std::string& base) {
  std::string name = base;
  for (int i = 2; graph.has_value_named(name) || graph.has_layer_named(name); ++i) {
    name = base + "_" + std::to_string(i);
  }
  return name;
}

int subsampled(int size, int stride) { return (size - 1) / stride + 1; }

void apply(Graph& graph, int id, int stride, Plan plan) {
  for (int reader : graph.value(id).consumers) set_stride(graph.node(reader).param.mutable_convolution_param(), 1, 1);
  for (const Plan::Strided& conv : plan.strided) {
    set_stride(graph.node(conv.node).param.mutable_convolution_param(), conv.stride[0] * stride,
               conv.stride[1] * stride);
  }
  for (int v : plan.shrunk) {
    std::vector<int>& shape = graph.value(v).shape;
    shape[2] = subsampled(shape[2], stride);
    shape[3] = subsampled(shape[3], stride);
  }
  // The Poolings, the latest place first, each moving the nodes from its
  // place on up by one.
  std::sort(plan.subsamples.begin(), plan.subsamples.end(),
            [](const Plan::Subsample& a, const Plan::Subsample& b) { return a.before > b.before; });
  for (std::size_t i = 0; i < plan.subsamples.size(); ++i) {
    const Plan::Subsample s = plan.subsamples[i];
    const Value& source = graph.value(s.value);
    std::vector<int> shape = source.shape;
    shape[2] = subsampled(shape[2], stride);
    shape[3] = subsampled(shape[3], stride);
    const std::string name = unused_name(graph, source.name + "_stride" + std::to_string(stride));
    const int top = graph.AddValue(name, shape);
    Node node;
    node.param.set_name(name);
    node.param.set_type("Pooling");
    if (graph.node(s.reader).param.has_ctx()) node.param.set_ctx(graph.node(s.reader).param.ctx());
    caffe::PoolingParameter* pooling = node.param.mutable_pooling_param();
    pooling->set_pool(caffe::PoolingParameter::AVE);
    pooling->set_kernel_size(1);
    pooling->set_stride(stride);
    pooling->set_round_mode(caffe::PoolingParameter::FLOOR);  // CEIL would add a window past an even size
    node.bottoms = {s.value};
    node.tops = {top};
    graph.Insert(s.before, std::move(node));
    const int reader = s.reader + 1;  // after the insertion (reader >= before)
    for (int& b : graph.node(reader).bottoms) {
      if (b == s.value) b = top;
    }
    std::vector<int>& readers = graph.value(s.value).consumers;
    readers.erase(std::remove(readers.begin(), readers.end(), reader), readers.end());
    graph.value(top).consumers.push_back(reader);
    for (std::size_t j = i + 1; j < plan.subsamples.size(); ++j) {
      Plan::Subsample& later = plan.subsamples[j];
      if (later.reader >= s.before) ++later.reader;
      if (later.before >= s.before) ++later.before;
    }
  }
}

int subsample_early(Graph& graph) {
  int rewrites = 0;
  for (int id = 0; id < graph.num_values(); ++id) {
    const Value& value = graph.value(id);
    if (value.consumers.empty() || value.kept || value.shape.size() != 4) continue;
    const int stride = readers_stride(graph, id);
    if (stride == 0) continue;
    Plan plan;
    if (!push_back(graph, id, plan) || plan.convolutions == 0) continue;
    apply(graph, id, stride, std::move(plan));
    ++rewrites;
  }
  return rewrites;
}

}  // namespace

Pass early_subsampling_pass() {
  return {"early_subsampling",
          "1x1 Convolutions of stride s reading a value: the layers computing it compute only every s-th row and "
          "column (a Convolution back through element-wise layers takes the stride; other inputs a 1x1 average "
          "Pooling of stride s), the 1x1s stride 1",
          &subsample_early};
}

}  // namespace predictor::graph
