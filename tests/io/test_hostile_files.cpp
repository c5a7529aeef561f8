// Hostile model files: dimensions that overflow, files that lie about their
// weights, paths that are not files, files too large, weights over budget,
// and a real allocation failure. Each is a predictor::Error naming the file,
// layer and field, raised before the memory or time is spent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/test_utils.h"
#include "io/npy.h"
#include "io/proto_io.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Limits.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "predictor/Predictor.h"

namespace predictor {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<const Model> random_model(const std::string& text) {
  return Model::WithRandomWeights(parse_net_text(text, "hostile.prototxt"), 1, {}, "hostile.prototxt");
}

// A scratch folder of the test's own.
fs::path scratch_dir() {
  const fs::path dir = fs::temp_directory_path() / ("predictor_hostile_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

// Runs `body` in a child process and returns its exit code (128 + signal
// when it died): for what must not touch the test process (rlimits,
// peak-memory readings).
int in_child(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 90;
    try {
      code = body();
    } catch (...) {
      code = 91;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

long peak_rss_kb() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// --- dimensions -------------------------------------------------------------------------

TEST(HostileDims, TooLargeForAnIntInEveryInputForm) {
  EXPECT_TRUE(testing::throws_error_naming(
      [] { random_model(R"(input: "data" input_shape { dim: 4294967297 dim: 3 })"); },
      {"hostile.prototxt", "input_shape[0]", "4294967297"}));
  EXPECT_TRUE(testing::throws_error_naming(
      [] {
        random_model(R"(layer { name: "in" type: "Input" top: "data"
                                input_param { shape { dim: 1 dim: 4294967297 } } })");
      },
      {"hostile.prototxt", "'in'", "input_param.shape[0]", "4294967297"}));
  // input_dim is int32 in the schema: the parser itself refuses, at its
  // line and column.
  EXPECT_TRUE(testing::throws_error_naming(
      [] { random_model("input: \"data\" input_dim: 4294967297 input_dim: 3 input_dim: 1 input_dim: 1"); },
      {"hostile.prototxt", "line 1, column 26", "out of range (4294967297)"}));
}

TEST(HostileDims, ProductsBeyondOneBlobAreErrors) {
  EXPECT_TRUE(testing::throws_error_naming(
      [] { random_model(R"(input: "data" input_shape { dim: 65536 dim: 65536 })"); },
      {"input_shape[0]", "more than 2147483647 elements"}));
  // Each dimension fits an int; their product does not fit 64 bits either.
  EXPECT_TRUE(testing::throws_error_naming(
      [] {
        random_model(R"(input: "data" input_shape { dim: 2147483647 dim: 2147483647 dim: 2147483647 dim: 5 })");
      },
      {"input_shape[0]", "more than"}));
  EXPECT_TRUE(testing::throws_error_naming(
      [] {
        random_model(R"(layer { name: "d" type: "Data" top: "data" top: "label"
                                data_param { batch_size: 4294967295 } transform_param { crop_size: 8 } })");
      },
      {"'d'", "data_param.batch_size", "4294967295"}));
  Blob blob;
  EXPECT_THROW(blob.Reshape({65536, 65536}), Error);
  EXPECT_THROW(blob.Reshape({2, -3}), Error);
  EXPECT_THROW(blob.Reshape(std::vector<int>(kMaxBlobAxes + 1, 1)), Error);
}

TEST(HostileDims, AbsurdActivationsAreRefusedBeforeAllocation) {
  // Loads (the declared shapes are valid), but a replica would need 8 GiB
  // per activation: refused at the first forward, before any allocation.
  const auto model = random_model(R"(input: "data" input_shape { dim: 1 dim: 1 dim: 1 dim: 1 }
    layer { name: "t" type: "Tile" bottom: "data" top: "t" tile_param { axis: 1 tiles: 2000000000 } }
    layer { name: "e" type: "Exp" bottom: "t" top: "e" })");
  PredictorOptions options;
  options.limits.max_bytes = std::size_t{1} << 30;
  Predictor predictor(model, options);
  Blob input({1, 1, 1, 1});
  EXPECT_TRUE(testing::throws_error_naming([&] { predictor.forward({&input}); }, {"max_bytes", "'t'"}));
}

// --- weights ------------------------------------------------------------------------------

constexpr const char* kWideNet = R"(name: "wide" input: "data" input_shape { dim: 1 dim: 8192 }
  layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 8192 } })";

// A .caffemodel declaring fc's 8192 x 8192 weights without carrying them.
std::string lying_caffemodel() {
  caffe::NetParameter weights;
  caffe::LayerParameter* layer = weights.add_layer();
  layer->set_name("fc");
  caffe::BlobProto* w = layer->add_blobs();
  w->mutable_shape()->add_dim(8192);
  w->mutable_shape()->add_dim(8192);
  layer->add_blobs()->mutable_shape()->add_dim(8192);
  return weights.SerializeAsString();
}

TEST(HostileWeights, ALyingFileIsRefusedWithoutAllocatingWhatItDeclares) {
  const std::string bytes = lying_caffemodel();
  EXPECT_LT(bytes.size(), 64u);
  EXPECT_TRUE(testing::throws_error_naming([&] { Model::FromStrings(kWideNet, bytes); },
                                           {"'fc'", "blobs[0]", "0 values", "67108864 expected"}));
  // The 256 MB it declares were never touched: the peak resident memory of
  // a fresh process barely moves.
  const int code = in_child([&] {
    const long before = peak_rss_kb();
    try {
      Model::FromStrings(kWideNet, bytes);
      return 2;
    } catch (const Error&) {
    }
    return peak_rss_kb() - before < 64 * 1024 ? 0 : 3;
  });
  EXPECT_EQ(code, 0) << "2: loaded, 3: peak memory grew by 64 MB or more";
}

TEST(HostileWeights, WeightsOverTheBudgetAreRefusedBeforeDrawing) {
  LoadOptions options;
  options.max_weight_bytes = 1 << 20;
  EXPECT_TRUE(testing::throws_error_naming(
      [&] { Model::WithRandomWeights(parse_net_text(kWideNet, "wide.prototxt"), 1, options, "wide.prototxt"); },
      {"wide.prototxt", "'fc'", "max_weight_bytes"}));
  EXPECT_TRUE(testing::throws_error_naming([&] { Model::FromStrings(kWideNet, lying_caffemodel(), options); },
                                           {"'fc'", "max_weight_bytes"}));
}

// --- paths and file sizes ----------------------------------------------------------------

TEST(HostileFiles, PathsThatAreNotRegularFiles) {
  const fs::path dir = scratch_dir();
  const fs::path fifo = dir / "model.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Without a writer, opening a FIFO for reading would block forever.
  for (const std::string& path : {fifo.string(), std::string("/dev/zero"), dir.string()}) {
    EXPECT_TRUE(testing::throws_error_naming([&] { Model::WithRandomWeightsFromFile(path, 1); },
                                             {path, "not a regular file"}));
    EXPECT_TRUE(testing::throws_error_naming([&] { read_net_binary_file(path); }, {path, "not a regular file"}));
    // The other files a model's user hands over: inputs and mean files.
    EXPECT_TRUE(testing::throws_error_naming([&] { read_npy(path); }, {path, "not a regular file"}));
    EXPECT_TRUE(testing::throws_error_naming([&] { read_blob_binary_file(path); }, {path, "not a regular file"}));
  }
  // An empty file parses as an empty message: named as what it is instead
  // of "no weights" for the first layer that takes some.
  const fs::path empty = dir / "empty.caffemodel";
  std::ofstream(empty.string()).close();
  EXPECT_TRUE(testing::throws_error_naming([&] { read_net_binary_file(empty.string()); },
                                           {empty.string(), "an empty file, not a .caffemodel"}));
  fs::remove_all(dir);
}

TEST(HostileFiles, FilesLargerThanTheirFormatAllows) {
  const fs::path dir = scratch_dir();
  // Sparse: their size costs no disk.
  const fs::path prototxt = dir / "huge.prototxt", caffemodel = dir / "huge.caffemodel";
  std::ofstream(prototxt).close();
  std::ofstream(caffemodel).close();
  fs::resize_file(prototxt, kMaxPrototxtBytes + 1);
  fs::resize_file(caffemodel, kMaxCaffemodelBytes + 1);
  EXPECT_TRUE(testing::throws_error_naming([&] { read_net_text_file(prototxt.string()); },
                                           {prototxt.string(), std::to_string(kMaxPrototxtBytes + 1) + " bytes"}));
  EXPECT_TRUE(testing::throws_error_naming([&] { read_net_binary_file(caffemodel.string()); },
                                           {caffemodel.string(), std::to_string(kMaxCaffemodelBytes + 1) + " bytes"}));
  fs::remove_all(dir);
}

// --- a real allocation failure ---------------------------------------------------------------

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST(HostileMemory, AnAllocationFailureIsAnErrorAndTheReplicaRecovers) {
  // In a child limited to 1 GiB of address space more than it has, a batch
  // needing 2.7 GB for one activation cannot be allocated; batch 1 then runs
  // and matches a run that never failed.
  const auto model = random_model(R"(input: "data" input_shape { dim: 1 dim: 8 dim: 64 dim: 64 }
    layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 256 kernel_size: 1 } }
    layer { name: "r" type: "ReLU" bottom: "c" top: "r" }
    layer { name: "fc" type: "InnerProduct" bottom: "r" top: "fc" inner_product_param { num_output: 4 } })");
  for (bool plan : {false, true}) {
    PredictorOptions options;
    if (plan) options.optimization = Optimization::MEMORY;
    const int code = in_child([&] {
      Predictor predictor(model, options), reference(model);
      Blob small({1, 8, 64, 64}), big({640, 8, 64, 64});
      small.mutable_cpu_data();
      big.mutable_cpu_data();  // 80 MB, allocated before the limit
      const auto expected = testing::to_vector(*reference.forward({&small}).at("fc"));
      rlimit limit{};
      ::getrlimit(RLIMIT_AS, &limit);
      std::ifstream status("/proc/self/statm");
      long pages = 0;
      status >> pages;
      limit.rlim_cur = static_cast<rlim_t>(pages) * ::sysconf(_SC_PAGESIZE) + (std::size_t{1} << 30);
      if (::setrlimit(RLIMIT_AS, &limit) != 0) return 4;
      try {
        predictor.forward({&big});
        return 2;
      } catch (const OutOfMemoryError& error) {
        const std::string message = error.what();
        if (message.find("bytes") == std::string::npos) return 5;
      }
      return testing::to_vector(*predictor.forward({&small}).at("fc")) == expected ? 0 : 3;
    });
    EXPECT_EQ(code, 0) << "plan " << plan << "; 2: no error, 3: wrong result after, 4: setrlimit, 5: message";
  }
}
#endif

}  // namespace
}  // namespace predictor
