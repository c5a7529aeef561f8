// How far batch-1 matrix products scale when several streams run them at
// once, as replicas of a Predictor do: ResNet-50's 54 products of one image
// (every convolution as im2col / 1x1 product, M = output channels, N = output
// H x W, K = input channels x kh x kw, and the classifier), captured once per
// stream as a CUDA graph and replayed on 1, 2, 4 and 8 streams together, each
// stream with its own cuBLAS handle, workspace and buffers (the runtime's
// setup). Nothing but the products runs: no im2col, bias or activation pass,
// no host synchronization inside a replay. Two ways to run them:
//  - cuBLAS SGEMM through cuda::gemm (the layers' call; cuBLAS's heuristic
//    splits k across blocks to spread one small product over the GPU),
//  - the fused-epilogue SGEMM written here (cuda::gemm_epilogue, its tile
//    chosen per shape, no split of k).
// Prints, per way and stream count: milliseconds of products per image
// (wall time / images), TFLOP/s, the fraction of the H200's FP32 SGEMM peak
// (51 TFLOP/s, as cuBLAS reaches it on large shapes) and the throughput
// against one stream; then each distinct product on 1 and 4 streams
// (cuBLAS). The ratio of 4 streams to 1 bounds what four replicas of the
// whole network can gain over one. No arguments; about 20 s on an H200.
//   build/bench/bench_gpu_streams
#if PREDICTOR_HAVE_CUDA

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "cuda/cuda_api.h"
#include "cuda_bench_util.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemm_epilogue.h"

namespace {

namespace cuda = predictor::cuda;
using namespace predictor::bench_cuda;

struct Product {
  int m, n, k;
};

// ResNet-50 (the zoo's, stride on the first 1x1 of a stage) at batch 1, in
// forward order.
std::vector<Product> resnet50_products() {
  std::vector<Product> products{{64, 12544, 147}};  // conv1 7x7/2
  auto stage = [&](int blocks, int mid, int out, int in, int positions) {
    for (int block = 0; block < blocks; ++block) {
      products.push_back({mid, positions, block == 0 ? in : out});  // 1x1 reduce
      products.push_back({mid, positions, mid * 9});                // 3x3
      products.push_back({out, positions, mid});                    // 1x1 expand
      if (block == 0) products.push_back({out, positions, in});     // projection shortcut
    }
  };
  stage(3, 64, 256, 64, 3136);
  stage(4, 128, 512, 256, 784);
  stage(6, 256, 1024, 512, 196);
  stage(3, 512, 2048, 1024, 49);
  products.push_back({1000, 1, 2048});  // fc1000
  return products;
}

double flop_of(const std::vector<Product>& products) {
  double flop = 0;
  for (const Product& p : products) flop += 2.0 * p.m * p.n * p.k;
  return flop;
}

enum class Way { kCublas, kFusedEpilogue };

// One stream's resources, as a replica holds them.
class StreamRun {
 public:
  StreamRun(std::size_t max_floats, const RandomPattern& pattern)
      : a_(max_floats, pattern), b_(max_floats, pattern), c_(max_floats, pattern) {
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    check(cudaMalloc(&workspace_, cuda::kBlasWorkspaceBytes), "cudaMalloc");
    blas_ = static_cast<cublasHandle_t>(cuda::create_blas(stream_, workspace_, cuda::kBlasWorkspaceBytes));
  }
  StreamRun(const StreamRun&) = delete;
  StreamRun& operator=(const StreamRun&) = delete;
  ~StreamRun() {
    if (graph_ != nullptr) cudaGraphExecDestroy(graph_);
    cuda::destroy_blas(blas_);
    cudaFree(workspace_);
    cudaStreamDestroy(stream_);
  }

  // Captures `products` run the given way as this stream's graph.
  void capture(const std::vector<Product>& products, Way way) {
    if (graph_ != nullptr) cudaGraphExecDestroy(graph_);
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    for (const Product& p : products) {
      if (way == Way::kCublas) {
        cuda::gemm(blas_, false, false, p.m, p.n, p.k, 1.0f, a_.get(), p.k, b_.get(), p.n, 0.0f, c_.get(), p.n,
                   stream_);
      } else {
        cuda::EpilogueGemm gemm;
        gemm.m = p.m;
        gemm.n = p.n;
        gemm.k = p.k;
        gemm.a = a_.get();
        gemm.lda = p.k;
        gemm.b = b_.get();
        gemm.ldb = p.n;
        gemm.c = c_.get();
        gemm.ldc = p.n;
        cuda::gemm_epilogue(gemm, stream_);
      }
    }
    cudaGraph_t graph = nullptr;
    check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
    check(cudaGraphInstantiate(&graph_, graph, 0), "cudaGraphInstantiate");
    cudaGraphDestroy(graph);
  }
  void replay() { check(cudaGraphLaunch(graph_, stream_), "cudaGraphLaunch"); }

 private:
  Buffer a_, b_, c_;
  cudaStream_t stream_ = nullptr;
  void* workspace_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cudaGraphExec_t graph_ = nullptr;
};

// Median over 5 rounds of the wall time per replay when the first `streams`
// runs each replay their graph `replays` times, interleaved (each stream
// runs its own sequence; the GPU overlaps them as it can).
double seconds_per_replay(std::vector<std::unique_ptr<StreamRun>>& runs, int streams, int replays) {
  std::vector<double> rounds;
  for (int round = 0; round < 5; ++round) {
    for (int s = 0; s < streams; ++s) runs[s]->replay();  // warm-up
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < replays; ++i) {
      for (int s = 0; s < streams; ++s) runs[s]->replay();
    }
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
    rounds.push_back(wall.count() / (static_cast<double>(replays) * streams));
  }
  std::sort(rounds.begin(), rounds.end());
  return rounds[rounds.size() / 2];
}

}  // namespace

int main() {
  const std::vector<Product> network = resnet50_products();
  std::size_t max_floats = 0;
  for (const Product& p : network) {
    max_floats = std::max({max_floats, std::size_t(p.m) * p.k, std::size_t(p.k) * p.n, std::size_t(p.m) * p.n});
  }
  const RandomPattern pattern(7);

  const int stream_counts[] = {1, 2, 4, 8};
  std::vector<std::unique_ptr<StreamRun>> runs;
  for (int s = 0; s < 8; ++s) runs.push_back(std::make_unique<StreamRun>(max_floats, pattern));

  const double flop = flop_of(network);
  std::printf("ResNet-50's %zu products at batch 1, %.2f GFLOP an image; CUDA graphs replayed on S streams at once\n",
              network.size(), flop / 1e9);
  std::printf("%-22s %7s %12s %9s %8s %10s\n", "products", "streams", "ms / image", "TFLOP/s", "of peak", "vs 1");
  for (Way way : {Way::kCublas, Way::kFusedEpilogue}) {
    for (auto& run : runs) run->capture(network, way);
    double one_stream = 0;
    for (int streams : stream_counts) {
      const double seconds = seconds_per_replay(runs, streams, 100);
      if (streams == 1) one_stream = seconds;
      const double tf = flop / seconds / 1e12;
      std::printf("%-22s %7d %12.3f %9.1f %7.0f%% %9.2fx\n",
                  way == Way::kCublas ? "cuBLAS SGEMM" : "gemm_epilogue (auto)", streams, seconds * 1e3, tf,
                  100 * tf / kPeakTflops, one_stream / seconds);
    }
  }

  std::printf("\nEach distinct product, cuBLAS SGEMM, 20 in a graph: microseconds per product\n");
  std::printf("%6s %6s %6s %12s %12s %8s %12s\n", "M", "N", "K", "1 stream", "4 streams", "vs 1", "TFLOP/s @4");
  std::vector<Product> distinct;
  for (const Product& p : network) {
    const bool seen = std::any_of(distinct.begin(), distinct.end(),
                                  [&](const Product& d) { return d.m == p.m && d.n == p.n && d.k == p.k; });
    if (!seen) distinct.push_back(p);
  }
  for (const Product& p : distinct) {
    const std::vector<Product> repeated(20, p);
    for (int s = 0; s < 4; ++s) runs[s]->capture(repeated, Way::kCublas);
    const double one = seconds_per_replay(runs, 1, 20) / 20;
    const double four = seconds_per_replay(runs, 4, 20) / 20;
    std::printf("%6d %6d %6d %12.2f %12.2f %7.2fx %12.1f\n", p.m, p.n, p.k, one * 1e6, four * 1e6, one / four,
                2.0 * p.m * p.n * p.k / four / 1e12);
  }
  return 0;
}

#else  // !PREDICTOR_HAVE_CUDA

#include <cstdio>

int main() {
  std::printf("bench_gpu_streams: built without CUDA\n");
  return 0;
}

#endif
