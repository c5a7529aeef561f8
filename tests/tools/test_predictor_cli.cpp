// The `predictor` command-line tool, run as a separate process the way users
// run it: init-weights, run, bench and memplan on the example model, and the
// error contract (exit code 1, one stderr line "predictor: error: ..." naming
// the file, layer or field at fault, never a crash). optimize, and
// --optimize_graph on run and bench, on a small net written here. convert
// (fully convolutional, V1 -> current) on small nets written here and on the
// zoo's AlexNet and VGG-16 (skipped without ../shared/models).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "cuda/cuda_api.h"
#include "graph/optimizer.h"
#include "io/deploy_net.h"
#include "io/npy.h"
#include "io/proto_io.h"
#include "predictor/CaffeProto.h"
#include "tool_runner.h"

namespace predictor {
namespace {

const std::string kMobilenet = PREDICTOR_SOURCE_DIR "/models/predictor_mobilenet/deploy.prototxt";

using testing::Json;
using testing::JsonParser;
using testing::read_text;
using testing::ToolResult;
using testing::write_text;

std::string make_temp_dir() { return testing::make_temp_dir("predictor_cli"); }

class PredictorCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs the tool in the test's directory, without a shell.
  ToolResult Run(const std::vector<std::string>& args) const { return testing::run_tool(dir_, args); }

  // Success: exit code 0, nothing on stderr.
  static void ExpectSuccess(const ToolResult& result) { testing::expect_tool_success(result); }

  // Failure as the tool promises it: exit code 1 and exactly one stderr line
  // "predictor: error: ..." containing every fragment.
  static void ExpectError(const ToolResult& result, const std::vector<std::string>& fragments) {
    testing::expect_tool_error(result, fragments);
  }

  static void SetUpTestSuite() { suite_dir_ = new std::string(make_temp_dir()); }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*suite_dir_);
    delete suite_dir_;
  }

  // Random weights for the example model, made once for the whole suite.
  std::string MobilenetWeights() const {
    const std::string weights = *suite_dir_ + "/mobilenet.caffemodel";
    if (!std::filesystem::exists(weights)) {
      const ToolResult result = Run({"init-weights", "--model=" + kMobilenet, "--output=" + weights, "--seed=5"});
      if (result.exit_code != 0) {
        ADD_FAILURE() << "init-weights failed on " << kMobilenet << ": " << result.err;
        std::filesystem::remove(weights);
      }
    }
    return weights;
  }

  static std::string* suite_dir_;  // lives from SetUpTestSuite to TearDownTestSuite
  std::string dir_;
};

std::string* PredictorCliTest::suite_dir_ = nullptr;

// --- init-weights ---------------------------------------------------------

TEST_F(PredictorCliTest, InitWeightsWritesACaffemodelThatIsTheSameForTheSameSeed) {
  const auto init = [&](const std::string& file, int seed) {
    return Run({"init-weights", "--model=" + kMobilenet, "--output=" + Path(file), "--seed=" + std::to_string(seed)});
  };
  const ToolResult first = init("a.caffemodel", 1);
  ExpectSuccess(first);
  EXPECT_NE(first.out.find("layers with weights"), std::string::npos) << first.out;
  EXPECT_EQ(first.out.find('\n'), first.out.size() - 1) << "not one line: " << first.out;
  ExpectSuccess(init("b.caffemodel", 1));
  ExpectSuccess(init("c.caffemodel", 2));

  const std::string a = read_text(Path("a.caffemodel"));
  EXPECT_GT(a.size(), 1000000u);
  EXPECT_EQ(a, read_text(Path("b.caffemodel")));
  EXPECT_NE(a, read_text(Path("c.caffemodel")));

  const caffe::NetParameter net = read_net_binary_file(Path("a.caffemodel"));
  std::map<std::string, const caffe::LayerParameter*> layers;
  for (const auto& layer : net.layer()) layers[layer.name()] = &layer;
  ASSERT_TRUE(layers.count("conv1") && layers.count("conv1/bn") && layers.count("conv2_1/dw") && layers.count("fc7"));
  ASSERT_EQ(layers["conv1"]->blobs_size(), 1);
  EXPECT_EQ(layers["conv1"]->blobs(0).shape().dim_size(), 4);
  EXPECT_EQ(layers["conv1"]->blobs(0).data_size(), 16 * 3 * 3 * 3);
  EXPECT_EQ(layers["conv2_1/dw"]->blobs(0).data_size(), 16 * 1 * 3 * 3);  // depthwise: one input channel per group
  EXPECT_EQ(layers["conv1/bn"]->blobs_size(), 3);
  ASSERT_EQ(layers["fc7"]->blobs_size(), 2);
  EXPECT_EQ(layers["fc7"]->blobs(0).data_size(), 1000 * 512);
  EXPECT_EQ(layers["fc7"]->blobs(1).data_size(), 1000);
}

// --- run ----------------------------------------------------------------

TEST_F(PredictorCliTest, RunWritesTheOutputsAndTheDrawnInput) {
  const std::string weights = MobilenetWeights();
  const ToolResult result =
      Run({"run", "--model=" + kMobilenet, "--weights=" + weights, "--seed=3", "--output_dir=" + Path("out")});
  ExpectSuccess(result);
  EXPECT_NE(result.out.find("prob: 1x1000"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("top-5"), std::string::npos) << result.out;

  const NpyArray input = read_npy(Path("out/input.npy"));
  EXPECT_EQ(input.shape, (std::vector<int>{1, 3, 160, 160}));
  for (float value : input.data) ASSERT_TRUE(value >= -1.0f && value < 1.0f) << value;
  const NpyArray prob = read_npy(Path("out/prob.npy"));
  ASSERT_EQ(prob.shape, (std::vector<int>{1, 1000}));
  double sum = 0;
  for (float value : prob.data) sum += value;
  EXPECT_NEAR(sum, 1.0, 1e-4);
}

TEST_F(PredictorCliTest, RunOnTheWrittenInputReproducesTheOutputsBitwise) {
  const std::string weights = MobilenetWeights();
  ExpectSuccess(
      Run({"run", "--model=" + kMobilenet, "--weights=" + weights, "--seed=4", "--output_dir=" + Path("drawn")}));
  ExpectSuccess(Run({"run", "--model=" + kMobilenet, "--weights=" + weights, "--input=" + Path("drawn/input.npy"),
                     "--output_dir=" + Path("loaded")}));
  EXPECT_EQ(read_text(Path("loaded/prob.npy")), read_text(Path("drawn/prob.npy")));
  EXPECT_FALSE(std::filesystem::exists(Path("loaded/input.npy")));  // only drawn inputs are written
}

TEST_F(PredictorCliTest, RunWithBatchThreeGivesBatchThreeOutputs) {
  const std::string weights = MobilenetWeights();
  ExpectSuccess(
      Run({"run", "--model=" + kMobilenet, "--weights=" + weights, "--batch=3", "--output_dir=" + Path("out")}));
  EXPECT_EQ(read_npy(Path("out/input.npy")).shape, (std::vector<int>{3, 3, 160, 160}));
  const NpyArray prob = read_npy(Path("out/prob.npy"));
  ASSERT_EQ(prob.shape, (std::vector<int>{3, 1000}));
  for (int n = 0; n < 3; ++n) {
    double sum = 0;
    for (int c = 0; c < 1000; ++c) sum += prob.data[n * 1000 + c];
    EXPECT_NEAR(sum, 1.0, 1e-4) << "sample " << n;
  }
  // The samples differ, so the rows must too.
  EXPECT_NE(std::vector<float>(prob.data.begin(), prob.data.begin() + 1000),
            std::vector<float>(prob.data.begin() + 1000, prob.data.begin() + 2000));

  // A batch-3 file gives a batch-3 run; --batch must agree with it.
  ExpectSuccess(Run({"run", "--model=" + kMobilenet, "--weights=" + weights, "--input=" + Path("out/input.npy"),
                     "--batch=3", "--output_dir=" + Path("again")}));
  EXPECT_EQ(read_text(Path("again/prob.npy")), read_text(Path("out/prob.npy")));
  ExpectError(Run({"run", "--model=" + kMobilenet, "--weights=" + weights, "--input=" + Path("out/input.npy"),
                   "--batch=2", "--output_dir=" + Path("bad")}),
              {Path("out/input.npy"), "--batch=2"});
}

// Planned activation memory changes where blobs live, never what they hold.
TEST_F(PredictorCliTest, RunWithOptimizeMemoryGivesBitwiseIdenticalOutputs) {
  const std::string weights = MobilenetWeights();
  const auto run = [&](const std::string& dir, std::vector<std::string> extra) {
    std::vector<std::string> args = {"run", "--model=" + kMobilenet, "--weights=" + weights, "--seed=6", "--batch=2",
                                     "--output_dir=" + Path(dir)};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  };
  ExpectSuccess(run("plain", {}));
  for (const std::string strategy : {"best_fit", "linear_scan"}) {
    SCOPED_TRACE(strategy);
    const ToolResult result = run(strategy, {"--optimize_memory", "--memory_strategy=" + strategy});
    ExpectSuccess(result);
    EXPECT_NE(result.out.find("memory plan (" + strategy + "): planned "), std::string::npos) << result.out;
    for (const char* file : {"input.npy", "prob.npy"}) {
      const std::string planned = read_text(Path(strategy + "/" + file));
      EXPECT_FALSE(planned.empty()) << file;
      EXPECT_EQ(planned, read_text(Path(std::string("plain/") + file))) << file;
    }
  }
  ExpectError(run("bad", {"--memory_strategy=linear_scan"}), {"--memory_strategy", "--optimize_memory"});
}

// --outputs writes intermediate blobs too (pycaffe's net.blobs[...]), the
// same with and without planned memory, where they would otherwise be
// overwritten by later layers.
TEST_F(PredictorCliTest, RunWritesTheBlobsNamedByOutputs) {
  const std::string weights = MobilenetWeights();
  const auto run = [&](const std::string& dir, std::vector<std::string> extra) {
    std::vector<std::string> args = {"run", "--model=" + kMobilenet, "--weights=" + weights, "--seed=6",
                                     "--output_dir=" + Path(dir), "--outputs=conv1,conv2_1/dw,pool6,prob"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  };
  const ToolResult plain = run("plain", {});
  ExpectSuccess(plain);
  EXPECT_NE(plain.out.find("blob conv2_1/dw: 1x16x80x80"), std::string::npos) << plain.out;
  ExpectSuccess(run("planned", {"--optimize_memory"}));
  for (const char* file : {"conv1.npy", "conv2_1_dw.npy", "pool6.npy", "prob.npy"}) {
    const std::string written = read_text(Path(std::string("plain/") + file));
    EXPECT_GT(written.size(), 128u) << file;
    EXPECT_EQ(read_text(Path(std::string("planned/") + file)), written) << file;
  }
  const NpyArray conv1 = read_npy(Path("plain/conv1.npy"));
  EXPECT_EQ(conv1.shape, (std::vector<int>{1, 16, 80, 80}));
  ExpectError(run("bad", {"--outputs=conv1,nope"}), {"--outputs", "'nope'"});
}

// A net of Input layers alone: several inputs, names that are not file
// names, and outputs equal to the inputs.
TEST_F(PredictorCliTest, RunHandlesSeveralInputsByName) {
  write_text(Path("two.prototxt"), R"(
name: "two_inputs"
layer { name: "in" type: "Input" top: "in/a" top: "b"
        input_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 5 } } })");
  ExpectSuccess(Run({"init-weights", "--model=" + Path("two.prototxt"), "--output=" + Path("two.caffemodel")}));
  const std::vector<std::string> net = {"--model=" + Path("two.prototxt"), "--weights=" + Path("two.caffemodel")};
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), net.begin(), net.end());
    args.insert(args.begin(), "run");
    return Run(args);
  };

  ExpectSuccess(run({"--output_dir=" + Path("drawn")}));
  const NpyArray a = read_npy(Path("drawn/input_in_a.npy"));
  EXPECT_EQ(a.shape, (std::vector<int>{2, 3}));
  EXPECT_EQ(read_npy(Path("drawn/input_b.npy")).shape, (std::vector<int>{2, 5}));
  EXPECT_EQ(read_npy(Path("drawn/in_a.npy")).data, a.data);

  ExpectSuccess(run({"--input=b=" + Path("drawn/input_b.npy") + ",in/a=" + Path("drawn/input_in_a.npy"),
                     "--output_dir=" + Path("loaded")}));
  EXPECT_EQ(read_text(Path("loaded/in_a.npy")), read_text(Path("drawn/in_a.npy")));
  EXPECT_EQ(read_text(Path("loaded/b.npy")), read_text(Path("drawn/b.npy")));

  ExpectError(run({"--input=" + Path("drawn/input_b.npy")}), {"--input", "in/a"});
  ExpectError(run({"--input=b=" + Path("drawn/input_b.npy")}), {"--input", "no file for net input 'in/a'"});
  ExpectError(run({"--input=c=" + Path("drawn/input_b.npy")}), {"--input", "no input 'c'"});
}

// --- bench --------------------------------------------------------------

TEST_F(PredictorCliTest, BenchJsonIsOneValidObject) {
  const ToolResult result =
      Run({"bench", "--model=" + kMobilenet, "--iterations=3", "--warmup=1", "--batch=2", "--json"});
  ExpectSuccess(result);
  Json json;
  ASSERT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
  ASSERT_EQ(json.type, Json::kObject);
  for (const char* key : {"model", "batch", "iterations", "median_ms", "min_ms", "mean_ms", "throughput_per_s",
                          "layers"}) {
    EXPECT_TRUE(json.members.count(key)) << "no key " << key;
  }
  EXPECT_EQ(json.members["model"].text, "predictor_mobilenet");
  EXPECT_EQ(json.members["batch"].number, 2);
  EXPECT_EQ(json.members["iterations"].number, 3);
  const double median = json.members["median_ms"].number;
  EXPECT_GT(median, 0);
  EXPECT_LE(json.members["min_ms"].number, median);
  EXPECT_LE(median, json.members["p99_ms"].number);
  EXPECT_EQ(json.members["p50_ms"].number, median);
  // Samples over the wall time of the timed phase: at most batch / mean
  // latency, as the calls fill that time one after another.
  const double samples_per_s_at_mean = 2 * 1000.0 / json.members["mean_ms"].number;
  EXPECT_LE(json.members["throughput_per_s"].number, samples_per_s_at_mean * (1 + 1e-6));
  EXPECT_GT(json.members["throughput_per_s"].number, samples_per_s_at_mean * 0.5);
  EXPECT_EQ(json.members["threads"].number, 1);
  EXPECT_GT(json.members["weight_bytes"].number, 1e6);
  EXPECT_GT(json.members["rss_mb"].number, 0);
  EXPECT_FALSE(json.members.count("planned_bytes"));  // no plan without --optimize_memory
  const Json& layers = json.members["layers"];
  ASSERT_EQ(layers.type, Json::kArray);
  ASSERT_GT(layers.items.size(), 100u);
  EXPECT_EQ(layers.items.front().members.at("name").text, "data");
  EXPECT_EQ(layers.items.back().members.at("type").text, "Softmax");
  for (const Json& layer : layers.items) {
    EXPECT_TRUE(layer.members.count("name") && layer.members.count("type") && layer.members.count("median_ms"));
  }
}

TEST_F(PredictorCliTest, BenchPrintsALayerTable) {
  const ToolResult result = Run({"bench", "--model=" + kMobilenet, "--weights=" + MobilenetWeights(),
                                 "--iterations=2", "--warmup=0"});
  ExpectSuccess(result);
  for (const char* text : {"median ms", "conv2_1/dw", "Convolution", "fc7", "forward (2 iterations"}) {
    EXPECT_NE(result.out.find(text), std::string::npos) << "no '" << text << "' in:\n" << result.out;
  }
}

// A service's view: one Predictor called from several threads.
TEST_F(PredictorCliTest, BenchWithThreadsReportsThroughputLatencyAndMemory) {
  const ToolResult result =
      Run({"bench", "--model=" + kMobilenet, "--threads=2", "--iterations=3", "--warmup=1", "--json"});
  ExpectSuccess(result);
  Json json;
  ASSERT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
  for (const char* key : {"model", "batch", "threads", "throughput_per_s", "p50_ms", "p99_ms", "median_ms", "min_ms",
                          "mean_ms", "rss_mb", "peak_rss_mb", "weight_bytes"}) {
    EXPECT_TRUE(json.members.count(key)) << "no key " << key;
  }
  EXPECT_EQ(json.members["threads"].number, 2);
  EXPECT_EQ(json.members["batch"].number, 1);
  EXPECT_GT(json.members["throughput_per_s"].number, 0);
  EXPECT_GT(json.members["p50_ms"].number, 0);
  EXPECT_GE(json.members["p99_ms"].number, json.members["p50_ms"].number);
  EXPECT_LE(json.members["min_ms"].number, json.members["p50_ms"].number);
  EXPECT_GT(json.members["rss_mb"].number, 0);
  EXPECT_GE(json.members["peak_rss_mb"].number, json.members["rss_mb"].number);
  EXPECT_FALSE(json.members.count("layers"));  // per-layer times are for one thread

  const ToolResult text = Run({"bench", "--model=" + kMobilenet, "--threads=2", "--iterations=2", "--warmup=0"});
  ExpectSuccess(text);
  for (const char* fragment : {"per-layer times: not with --threads=2", "2 threads", "samples/s", "resident memory"}) {
    EXPECT_NE(text.out.find(fragment), std::string::npos) << "no '" << fragment << "' in:\n" << text.out;
  }
}

TEST_F(PredictorCliTest, BenchWithOptimizeMemoryReportsThePlan) {
  for (const std::string threads : {"1", "2"}) {
    SCOPED_TRACE("--threads=" + threads);
    const ToolResult result = Run({"bench", "--model=" + kMobilenet, "--threads=" + threads, "--iterations=2",
                                   "--warmup=1", "--optimize_memory", "--memory_strategy=linear_scan", "--json"});
    ExpectSuccess(result);
    Json json;
    ASSERT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
    EXPECT_EQ(json.members["memory_strategy"].text, "linear_scan");
    const double planned = json.members["planned_bytes"].number;
    EXPECT_GT(planned, 0);
    EXPECT_LE(planned, json.members["naive_bytes"].number);
    EXPECT_LE(json.members["lower_bound_bytes"].number, planned);
    EXPECT_EQ(json.members.count("layers"), threads == "1" ? 1u : 0u);
  }
  const ToolResult text =
      Run({"bench", "--model=" + kMobilenet, "--iterations=1", "--warmup=0", "--optimize_memory"});
  ExpectSuccess(text);
  EXPECT_NE(text.out.find("memory plan (best_fit): planned "), std::string::npos) << text.out;
  ExpectError(Run({"bench", "--model=" + kMobilenet, "--optimize_memory", "--memory_strategy=bogus"}),
              {"--memory_strategy", "'bogus'", "best_fit"});
}

// --- --compute_threads ----------------------------------------------------

// Threads inside one forward: run writes the same bits with any count; bench
// reports the count and the instruction set of the kernels, and --threads
// stays the number of replicas.
TEST_F(PredictorCliTest, ComputeThreads) {
  const std::string weights = MobilenetWeights();
  const auto run = [&](const std::string& dir, const std::string& threads) {
    return Run({"run", "--model=" + kMobilenet, "--weights=" + weights, "--seed=8", "--batch=2",
                "--output_dir=" + Path(dir), "--compute_threads=" + threads});
  };
  ExpectSuccess(run("one", "1"));
  ExpectSuccess(run("three", "3"));
  for (const char* file : {"input.npy", "prob.npy"}) {
    const std::string written = read_text(Path(std::string("one/") + file));
    EXPECT_FALSE(written.empty()) << file;
    EXPECT_EQ(read_text(Path(std::string("three/") + file)), written) << file;
  }

  const ToolResult text =
      Run({"bench", "--model=" + kMobilenet, "--compute_threads=2", "--iterations=2", "--warmup=0"});
  ExpectSuccess(text);
  EXPECT_NE(text.out.find("\ncpu kernels: "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" instruction set, 2 compute threads per forward\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("batch 1, 1 thread x 2 compute threads): median "), std::string::npos) << text.out;
  for (const std::string threads : {"1", "2"}) {
    SCOPED_TRACE("--threads=" + threads);
    const ToolResult result = Run({"bench", "--model=" + kMobilenet, "--threads=" + threads, "--compute_threads=2",
                                   "--iterations=2", "--warmup=0", "--json"});
    ExpectSuccess(result);
    Json json;
    ASSERT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
    EXPECT_EQ(json.members["compute_threads"].number, 2);
    EXPECT_EQ(json.members["threads"].number, std::stoi(threads));
    const std::string isa = json.members["isa"].text;
    EXPECT_TRUE(isa == "portable" || isa == "avx2" || isa == "avx512") << isa;
  }
  Json plain;
  const ToolResult defaults = Run({"bench", "--model=" + kMobilenet, "--iterations=1", "--warmup=0", "--json"});
  ExpectSuccess(defaults);
  ASSERT_TRUE(JsonParser(defaults.out).Parse(&plain)) << defaults.out;
  EXPECT_EQ(plain.members["compute_threads"].number, 1);

  for (const std::string bad : {"0", "-2", "100000"}) {
    ExpectError(run("bad", bad), {"--compute_threads", bad});
    ExpectError(Run({"bench", "--model=" + kMobilenet, "--compute_threads=" + bad}), {"--compute_threads", bad});
  }
}

// --- --precision ------------------------------------------------------------

// FP32 unless asked; TF32 only on a GPU; anything else an error naming the flag.
TEST_F(PredictorCliTest, Precision) {
  const ToolResult result = Run({"bench", "--model=" + kMobilenet, "--iterations=1", "--warmup=0", "--json"});
  ExpectSuccess(result);
  Json json;
  ASSERT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
  EXPECT_EQ(json.members["precision"].text, "fp32");
  ExpectSuccess(Run({"bench", "--model=" + kMobilenet, "--iterations=1", "--warmup=0", "--precision=fp32"}));
  const std::string weights = MobilenetWeights();
  for (const std::vector<std::string>& base : std::vector<std::vector<std::string>>{
           {"bench", "--model=" + kMobilenet},
           {"run", "--model=" + kMobilenet, "--weights=" + weights, "--output_dir=" + Path("precision")},
           {"detect", "--model=" + kMobilenet, "--image=" + Path("absent.ppm")}}) {
    SCOPED_TRACE(base[0]);
    std::vector<std::string> tf32 = base, bad = base;
    tf32.push_back("--precision=tf32");
    bad.push_back("--precision=fp16");
    ExpectError(Run(tf32), {"--precision=tf32", "--device=gpu"});
    ExpectError(Run(bad), {"--precision", "'fp16'", "fp32 or tf32"});
  }
}

// --- --device -------------------------------------------------------------

// `out` without its lines that start with `prefix`.
std::string without_lines(const std::string& out, const std::string& prefix) {
  std::string kept;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) kept += line + "\n";
  }
  return kept;
}

// `out` with every number (a run of digits and dots, and the spaces that pad
// it) replaced by '#': the text of a bench, whose figures differ from run to
// run.
std::string without_numbers(const std::string& out) {
  std::string masked;
  for (std::size_t i = 0; i < out.size();) {
    if (std::isdigit(static_cast<unsigned char>(out[i]))) {
      while (!masked.empty() && masked.back() == ' ') masked.pop_back();
      while (i < out.size() && (std::isdigit(static_cast<unsigned char>(out[i])) || out[i] == '.')) ++i;
      masked += '#';
    } else {
      masked += out[i++];
    }
  }
  return masked;
}

// What the tool says when no CUDA device can be had.
#ifdef PREDICTOR_HAVE_CUDA
const char* const kNoCudaDevice = "no CUDA device";
#else
const char* const kNoCudaDevice = "no CUDA support";  // a build without the CUDA toolkit
#endif

std::vector<std::string> json_keys(const Json& json) {
  std::vector<std::string> keys;
  for (const auto& member : json.members) keys.push_back(member.first);
  return keys;
}

TEST_F(PredictorCliTest, DeviceCpuIsTheDefault) {
  const std::string weights = MobilenetWeights();
  const auto run = [&](const std::string& dir, std::vector<std::string> extra) {
    std::vector<std::string> args = {"run", "--model=" + kMobilenet, "--weights=" + weights, "--seed=7",
                                     "--output_dir=" + Path(dir)};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  };
  const ToolResult plain = run("plain", {});
  ExpectSuccess(plain);
  const ToolResult cpu = run("cpu", {"--device=cpu"});
  ExpectSuccess(cpu);
  EXPECT_NE(plain.out.find("\ndevice: cpu\n"), std::string::npos) << plain.out;
  // The same lines, bar the time of the forward and the output directory.
  std::string expected = without_lines(plain.out, "forward: ");
  for (std::size_t at; (at = expected.find(Path("plain"))) != std::string::npos;) {
    expected.replace(at, Path("plain").size(), Path("cpu"));
  }
  EXPECT_EQ(without_lines(cpu.out, "forward: "), expected);
  for (const char* file : {"input.npy", "prob.npy"}) {
    const std::string written = read_text(Path(std::string("plain/") + file));
    EXPECT_FALSE(written.empty()) << file;
    EXPECT_EQ(read_text(Path(std::string("cpu/") + file)), written) << file;
  }

  const auto bench = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"bench", "--model=" + kMobilenet, "--iterations=2", "--warmup=0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  };
  const ToolResult bench_plain = bench({});
  ExpectSuccess(bench_plain);
  const ToolResult bench_cpu = bench({"--device=cpu"});
  ExpectSuccess(bench_cpu);
  EXPECT_NE(bench_plain.out.find("\ndevice: cpu\n"), std::string::npos) << bench_plain.out;
  EXPECT_EQ(without_numbers(bench_cpu.out), without_numbers(bench_plain.out));
  EXPECT_EQ(bench_cpu.out.find("CUDA"), std::string::npos) << bench_cpu.out;

  for (const std::string threads : {"1", "2"}) {
    SCOPED_TRACE("--threads=" + threads);
    Json plain_json, cpu_json;
    const ToolResult a = bench({"--json", "--threads=" + threads});
    const ToolResult b = bench({"--json", "--threads=" + threads, "--device=cpu"});
    ExpectSuccess(a);
    ExpectSuccess(b);
    ASSERT_TRUE(JsonParser(a.out).Parse(&plain_json)) << a.out;
    ASSERT_TRUE(JsonParser(b.out).Parse(&cpu_json)) << b.out;
    EXPECT_EQ(json_keys(cpu_json), json_keys(plain_json));
    EXPECT_EQ(cpu_json.members["device"].text, "cpu");
    EXPECT_EQ(plain_json.members["device"].text, "cpu");
    EXPECT_EQ(cpu_json.members["weights_bytes_on_device"].number, 0);
    EXPECT_EQ(cpu_json.members["arena_bytes_on_device"].number, 0);
    for (const char* key : {"device_name", "device_ms", "cuda_graph"}) {
      EXPECT_FALSE(cpu_json.members.count(key)) << key << " on the CPU";
    }
  }
}

TEST_F(PredictorCliTest, UnknownOrMissingDeviceIsAnError) {
  const std::string weights = MobilenetWeights();
  const std::vector<std::vector<std::string>> commands = {
      {"run", "--model=" + kMobilenet, "--weights=" + weights, "--output_dir=" + Path("out")},
      {"bench", "--model=" + kMobilenet, "--iterations=1", "--warmup=0"},
      {"bench", "--model=" + kMobilenet, "--iterations=1", "--warmup=0", "--threads=2"}};
  for (const auto& command : commands) {
    SCOPED_TRACE(command[0] + " " + command.back());
    const auto with = [&](const std::string& flag) {
      std::vector<std::string> args = command;
      args.push_back(flag);
      return Run(args);
    };
    ExpectError(with("--device=tpu"), {"--device", "'tpu'", "gpu:N"});
    ExpectError(with("--device=gpu:x"), {"--device", "'gpu:x'"});
    if (cuda::device_count() == 0) {
      ExpectError(with("--device=gpu:99"), {"--device=gpu:99", kNoCudaDevice});
    } else {
      ExpectError(with("--device=gpu:99"), {"--device=gpu:99", "no such CUDA device"});
    }
  }
  EXPECT_FALSE(std::filesystem::exists(Path("out")));
  // Flags that would do nothing.
  ExpectError(Run({"bench", "--model=" + kMobilenet, "--cuda_graphs=false"}), {"--cuda_graphs", "--device"});
  ExpectError(Run({"memplan", "--model=" + kMobilenet, "--device=cpu"}), {"--device", "'memplan'"});
  ExpectError(Run({"run", "--model=" + kMobilenet, "--weights=" + weights, "--cuda_graphs=false"}),
              {"--cuda_graphs", "'run'"});
}

// --device=gpu: without a GPU (or a CUDA build) a one-line error; with one,
// the run and the bench on it.
TEST_F(PredictorCliTest, DeviceGpu) {
  const std::string weights = MobilenetWeights();
  const std::vector<std::string> run_args = {"run", "--model=" + kMobilenet, "--weights=" + weights, "--seed=8",
                                             "--device=gpu", "--output_dir=" + Path("gpu")};
  const std::vector<std::string> bench_args = {"bench", "--model=" + kMobilenet, "--iterations=3", "--warmup=1",
                                               "--device=gpu", "--json"};
  if (cuda::device_count() == 0) {
    ExpectError(Run(run_args), {"--device=gpu", kNoCudaDevice});
    ExpectError(Run(bench_args), {"--device=gpu", kNoCudaDevice});
    EXPECT_FALSE(std::filesystem::exists(Path("gpu")));
    return;
  }
  const std::string name = cuda::device_name(0);

  const ToolResult run = Run(run_args);
  ExpectSuccess(run);
  EXPECT_NE(run.out.find("\ndevice: gpu:0 (" + name + ")\n"), std::string::npos) << run.out;
  ExpectSuccess(Run({"run", "--model=" + kMobilenet, "--weights=" + weights, "--seed=8", "--output_dir=" + Path("cpu")}));
  EXPECT_EQ(read_text(Path("gpu/input.npy")), read_text(Path("cpu/input.npy")));
  const NpyArray gpu_prob = read_npy(Path("gpu/prob.npy")), cpu_prob = read_npy(Path("cpu/prob.npy"));
  ASSERT_EQ(gpu_prob.shape, cpu_prob.shape);
  for (std::size_t i = 0; i < cpu_prob.data.size(); ++i) {
    ASSERT_NEAR(gpu_prob.data[i], cpu_prob.data[i], 1e-3) << "class " << i;
  }

  const auto bench = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = bench_args;
    args.insert(args.end(), extra.begin(), extra.end());
    const ToolResult result = Run(args);
    ExpectSuccess(result);
    Json json;
    EXPECT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
    return json;
  };
  Json json = bench({});
  EXPECT_EQ(json.members["device"].text, "gpu:0");
  EXPECT_EQ(json.members["device_name"].text, name);
  const Json& device_ms = json.members["device_ms"];
  ASSERT_EQ(device_ms.type, Json::kObject);
  EXPECT_GT(device_ms.members.at("min").number, 0);
  EXPECT_LE(device_ms.members.at("min").number, device_ms.members.at("median").number);
  EXPECT_LE(device_ms.members.at("median").number, device_ms.members.at("max").number);
  EXPECT_EQ(json.members["cuda_graph"].type, Json::kBool);
  EXPECT_GT(json.members["weights_bytes_on_device"].number, 1e6);
  EXPECT_GT(json.members["arena_bytes_on_device"].number, 0);
  ASSERT_GT(json.members["layers"].items.size(), 100u);
  for (const Json& layer : json.members["layers"].items) EXPECT_TRUE(layer.members.count("backend"));

  Json off = bench({"--cuda_graphs=false"});
  EXPECT_FALSE(off.members["cuda_graph"].boolean);
  Json planned = bench({"--optimize_memory"});
  EXPECT_EQ(planned.members["arena_bytes_on_device"].number, planned.members["planned_bytes"].number);
  Json threads = bench({"--threads=2"});
  EXPECT_EQ(threads.members["device"].text, "gpu:0");
  // Read while the replicas live (the predictor releases its weights).
  EXPECT_GT(threads.members["weights_bytes_on_device"].number, 1e6);
  EXPECT_GT(threads.members["arena_bytes_on_device"].number, 0);
  EXPECT_FALSE(threads.members.count("device_ms"));
  // With GRAPH the Predictor optimizes its own copy of the model: its weights
  // are the ones on the device.
  Json optimized_threads = bench({"--threads=2", "--optimize_graph"});
  EXPECT_GT(optimized_threads.members["weights_bytes_on_device"].number, 1e6);

  const ToolResult text = Run({"bench", "--model=" + kMobilenet, "--iterations=2", "--warmup=1", "--device=gpu"});
  ExpectSuccess(text);
  for (const std::string& fragment : {"\ndevice: gpu:0 (" + name + ")\n", std::string("device time (CUDA events"),
                                     std::string("CUDA graph: "), std::string("device memory: weights")}) {
    EXPECT_NE(text.out.find(fragment), std::string::npos) << "no '" << fragment << "' in:\n" << text.out;
  }
}

// --- memplan --------------------------------------------------------------

TEST_F(PredictorCliTest, MemplanJsonReportsAPlanWithinItsBounds) {
  const auto memplan = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"memplan", "--model=" + kMobilenet, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const ToolResult result = Run(args);
    ExpectSuccess(result);
    Json json;
    EXPECT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
    for (const char* key : {"model", "batch", "strategy", "naive_bytes", "planned_bytes", "lower_bound_bytes",
                            "num_buffers", "num_requests"}) {
      EXPECT_TRUE(json.members.count(key)) << "no key " << key;
    }
    return json;
  };
  Json best = memplan({});
  EXPECT_EQ(best.members["model"].text, "predictor_mobilenet");
  EXPECT_EQ(best.members["batch"].number, 1);
  EXPECT_EQ(best.members["strategy"].text, "best_fit");
  EXPECT_EQ(best.members["num_buffers"].number, 1);
  EXPECT_GT(best.members["num_requests"].number, 10);
  EXPECT_GT(best.members["lower_bound_bytes"].number, 0);
  EXPECT_LE(best.members["lower_bound_bytes"].number, best.members["planned_bytes"].number);
  EXPECT_LE(best.members["planned_bytes"].number, best.members["naive_bytes"].number);

  Json linear = memplan({"--strategy=linear_scan", "--batch=4"});
  EXPECT_EQ(linear.members["strategy"].text, "linear_scan");
  EXPECT_EQ(linear.members["batch"].number, 4);
  EXPECT_LE(linear.members["lower_bound_bytes"].number, linear.members["planned_bytes"].number);
  EXPECT_LE(linear.members["planned_bytes"].number, linear.members["naive_bytes"].number);
  EXPECT_GT(linear.members["naive_bytes"].number, 3 * best.members["naive_bytes"].number);
}

TEST_F(PredictorCliTest, MemplanPrintsTheFiguresAndDrawsTheSvg) {
  // No weights anywhere: the plan needs the definition only.
  const ToolResult result = Run({"memplan", "--model=" + kMobilenet, "--svg=" + Path("plan.svg")});
  ExpectSuccess(result);
  for (const char* fragment : {"naive:", "planned:", "lower bound:", "planned/lower bound:", "saving vs naive:",
                               "buffers: 1, requests:", "plan.svg"}) {
    EXPECT_NE(result.out.find(fragment), std::string::npos) << "no '" << fragment << "' in:\n" << result.out;
  }
  const std::string svg = read_text(Path("plan.svg"));
  EXPECT_TRUE(svg.rfind("<svg", 0) == 0 || svg.rfind("<?xml", 0) == 0) << svg.substr(0, 100);
  EXPECT_NE(svg.find("<title>"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

// --pooling_rule reaches the loader: a stride-1 2x2 pool keeps 13x13 under
// caffe-yolov3's rule, so its Concat with the input fits; under BVLC's rule
// (the default) the Concat fails with a hint naming the flag.
TEST_F(PredictorCliTest, PoolingRuleFlag) {
  write_text(Path("tiny_pool.prototxt"), R"(
    input: "data" input_shape { dim: 1 dim: 2 dim: 13 dim: 13 }
    layer { name: "pool" type: "Pooling" bottom: "data" top: "pooled"
            pooling_param { pool: MAX kernel_size: 2 stride: 1 } }
    layer { name: "cat" type: "Concat" bottom: "data" bottom: "pooled" top: "out" })");
  const std::string model = "--model=" + Path("tiny_pool.prototxt");
  ExpectError(Run({"memplan", model}), {"'cat'", "'pool'", "--pooling_rule=caffe-yolov3"});
  ExpectSuccess(Run({"memplan", model, "--pooling_rule=caffe-yolov3"}));
  ExpectSuccess(Run({"bench", model, "--pooling_rule=caffe-yolov3", "--iterations=1", "--warmup=0"}));
  ExpectError(Run({"memplan", model, "--pooling_rule=darknet"}), {"--pooling_rule", "'darknet'", "caffe-yolov3"});
}

TEST_F(PredictorCliTest, MemplanErrors) {
  ExpectError(Run({"memplan", "--model=" + kMobilenet, "--strategy=bogus"}), {"--strategy", "'bogus'", "best_fit"});
  ExpectError(Run({"memplan", "--model=" + Path("missing.prototxt")}), {Path("missing.prototxt")});
  ExpectError(Run({"memplan", "--model=" + kMobilenet, "--weights=w.caffemodel"}), {"--weights", "'memplan'"});
  ExpectError(Run({"memplan", "--model=" + kMobilenet, "--svg=" + Path("no/such/dir/plan.svg")}),
              {Path("no/such/dir/plan.svg")});
}

// --- optimize and --optimize_graph ----------------------------------------

// Conv + BatchNorm + Scale + ReLU in place, a Dropout, the same chain with
// every layer writing a new blob, a classifier.
constexpr const char* kFoldableNet = R"(
name: "foldable"
input: "data" input_shape { dim: 2 dim: 3 dim: 12 dim: 12 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "drop1" type: "Dropout" bottom: "conv1" top: "drop1" }
layer { name: "conv2" type: "Convolution" bottom: "drop1" top: "conv2"
        convolution_param { num_output: 6 kernel_size: 3 } }
layer { name: "bn2" type: "BatchNorm" bottom: "conv2" top: "bn2" }
layer { name: "scale2" type: "Scale" bottom: "bn2" top: "scale2" scale_param { bias_term: true } }
layer { name: "relu2" type: "ReLU" bottom: "scale2" top: "relu2" }
layer { name: "pool" type: "Pooling" bottom: "relu2" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 10 } })";
constexpr int kFoldableLayers = 12;  // in deploy form: the input becomes an Input layer

// Element-wise within `tolerance` of the largest magnitude of `expected`.
::testing::AssertionResult npy_near(const std::string& actual_path, const std::string& expected_path,
                                    double tolerance) {
  const NpyArray actual = read_npy(actual_path), expected = read_npy(expected_path);
  if (actual.shape != expected.shape) return ::testing::AssertionFailure() << actual_path << ": shapes differ";
  double scale = 0;
  for (float value : expected.data) scale = std::max(scale, std::fabs(static_cast<double>(value)));
  if (scale == 0) return ::testing::AssertionFailure() << expected_path << " is all zeros";
  for (std::size_t i = 0; i < expected.data.size(); ++i) {
    if (std::fabs(static_cast<double>(actual.data[i]) - expected.data[i]) > tolerance * scale) {
      return ::testing::AssertionFailure() << actual_path << "[" << i << "]: " << actual.data[i] << " vs "
                                           << expected.data[i] << " (scale " << scale << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

class OptimizeCliTest : public PredictorCliTest {
 protected:
  void SetUp() override {
    PredictorCliTest::SetUp();
    write_text(Path("net.prototxt"), kFoldableNet);
    ExpectSuccess(Run({"init-weights", "--model=" + Path("net.prototxt"), "--output=" + Path("net.caffemodel"),
                       "--seed=9"}));
  }
  ToolResult RunNet(const std::string& dir, std::vector<std::string> extra) const {
    std::vector<std::string> args = {"run", "--model=" + Path("net.prototxt"), "--weights=" + Path("net.caffemodel"),
                                     "--seed=4", "--output_dir=" + Path(dir)};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }
};

// The lines of `out` that start with `prefix`.
int lines_starting(const std::string& out, const std::string& prefix) {
  int count = 0;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) count += line.rfind(prefix, 0) == 0;
  return count;
}

TEST_F(OptimizeCliTest, OptimizeWritesANetThatRunsAndMatches) {
  const ToolResult optimized = Run({"optimize", "--model=" + Path("net.prototxt"), "--weights=" + Path("net.caffemodel"),
                                    "--output_model=" + Path("opt.prototxt"),
                                    "--output_weights=" + Path("opt.caffemodel")});
  ExpectSuccess(optimized);
  // One line per pass (but the extension passes, which need
  // --allow_extensions) and a total line.
  std::size_t bvlc_passes = 0;
  for (const graph::Pass& pass : graph::all_passes()) {
    EXPECT_EQ(lines_starting(optimized.out, pass.name + std::string(" ")), pass.extension ? 0 : 1)
        << pass.name << " in:\n"
        << optimized.out;
    bvlc_passes += pass.extension ? 0 : 1;
  }
  EXPECT_LT(bvlc_passes, graph::all_passes().size());
  EXPECT_EQ(lines_starting(optimized.out, "total "), 1) << optimized.out;
  EXPECT_EQ(static_cast<std::size_t>(std::count(optimized.out.begin(), optimized.out.end(), '\n')), bvlc_passes + 1)
      << optimized.out;

  // Text format, the name kept, fewer layers; weights in BVLC's format.
  const caffe::NetParameter net = read_net_text_file(Path("opt.prototxt"));
  EXPECT_EQ(net.name(), "foldable");
  EXPECT_LT(net.layer_size(), kFoldableLayers);
  EXPECT_NE(optimized.out.find(std::to_string(kFoldableLayers) + " -> " + std::to_string(net.layer_size()) +
                               " layers"),
            std::string::npos)
      << optimized.out;
  for (const auto& layer : net.layer()) {
    EXPECT_NE(layer.type(), "Dropout");
    EXPECT_NE(layer.type(), "BatchNorm");
    EXPECT_EQ(layer.blobs_size(), 0) << layer.name();
    EXPECT_FALSE(layer.has_fused_activation()) << layer.name() << ": not a BVLC field";
  }
  const caffe::NetParameter weights = read_net_binary_file(Path("opt.caffemodel"));
  EXPECT_EQ(weights.layer_size(), net.layer_size());

  ExpectSuccess(RunNet("original", {}));
  ExpectSuccess(Run({"run", "--model=" + Path("opt.prototxt"), "--weights=" + Path("opt.caffemodel"), "--seed=4",
                     "--output_dir=" + Path("optimized")}));
  EXPECT_EQ(read_text(Path("optimized/input.npy")), read_text(Path("original/input.npy")));
  EXPECT_TRUE(npy_near(Path("optimized/fc.npy"), Path("original/fc.npy"), 1e-4));
}

// A train_val whose Data layer leaves the image size to its dataset (no
// crop_size): optimize and convert take it with --input_shape, which the
// load error suggests, and write a net that declares that shape.
const char kTrainValWithoutSize[] = R"(
name: "train_val"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TRAIN }
        data_param { source: "train_lmdb" batch_size: 8 backend: LMDB } }
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
        data_param { source: "test_lmdb" batch_size: 2 backend: LMDB } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" batch_norm_param { use_global_stats: true } }
layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip" inner_product_param { num_output: 3 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
)";

TEST_F(OptimizeCliTest, TrainValWithoutAnImageSizeTakesInputShape) {
  write_text(Path("train_val.prototxt"), kTrainValWithoutSize);
  const std::string model = "--model=" + Path("train_val.prototxt");
  const std::string shape = "--input_shape=data:2,3,8,8";
  ExpectSuccess(Run({"init-weights", model, shape, "--output=" + Path("tv.caffemodel")}));
  const std::string weights = "--weights=" + Path("tv.caffemodel");
  const std::vector<std::string> outputs = {"--output_model=" + Path("opt.prototxt"),
                                            "--output_weights=" + Path("opt.caffemodel")};
  ExpectError(Run({"optimize", model, weights, outputs[0], outputs[1]}), {"'data'", "--input_shape=data:N,C,H,W"});

  ExpectSuccess(Run({"optimize", model, weights, shape, outputs[0], outputs[1]}));
  const caffe::NetParameter net = read_net_text_file(Path("opt.prototxt"));
  ASSERT_GT(net.layer_size(), 0);
  ASSERT_EQ(net.layer(0).type(), "Input");
  const auto& dims = net.layer(0).input_param().shape(0).dim();
  EXPECT_EQ(std::vector<std::int64_t>(dims.begin(), dims.end()), (std::vector<std::int64_t>{2, 3, 8, 8}));
  ExpectSuccess(Run({"run", model, weights, shape, "--seed=4", "--output_dir=" + Path("original")}));
  ExpectSuccess(Run({"run", "--model=" + Path("opt.prototxt"), "--weights=" + Path("opt.caffemodel"), "--seed=4",
                     "--output_dir=" + Path("optimized")}));
  EXPECT_EQ(read_text(Path("optimized/input.npy")), read_text(Path("original/input.npy")));
  EXPECT_TRUE(npy_near(Path("optimized/ip.npy"), Path("original/ip.npy"), 1e-4));

  // A Data layer that preprocesses (transform_param's scale): run says the
  // input is taken as given.
  std::string scaled = kTrainValWithoutSize;
  const std::string test_data = "data_param { source: \"test_lmdb\"";
  ASSERT_NE(scaled.find(test_data), std::string::npos);
  scaled.insert(scaled.find(test_data), "transform_param { scale: 0.5 } ");
  write_text(Path("scaled.prototxt"), scaled);
  const ToolResult noted =
      Run({"run", "--model=" + Path("scaled.prototxt"), weights, shape, "--output_dir=" + Path("scaled")});
  EXPECT_EQ(noted.exit_code, 0) << noted.err;
  EXPECT_NE(noted.err.find("note: layer 'data' (Data) of " + Path("scaled.prototxt") +
                           ": Caffe applies its transform_param scale to what it reads"),
            std::string::npos)
      << noted.err;
  // optimize and convert --to=fully_convolutional write a net whose input is
  // taken as given too; optimize with the scale folded in does not.
  const std::string scaled_model = "--model=" + Path("scaled.prototxt");
  const std::vector<std::string> scaled_outputs = {"--output_model=" + Path("scaled_opt.prototxt"),
                                                   "--output_weights=" + Path("scaled_opt.caffemodel")};
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"optimize", scaled_model, weights, shape, scaled_outputs[0], scaled_outputs[1]},
        std::vector<std::string>{"convert", "--to=fully_convolutional", scaled_model, weights, shape, scaled_outputs[0],
                                 scaled_outputs[1]}}) {
    const ToolResult written = Run(args);
    EXPECT_EQ(written.exit_code, 0) << args[0] << ": " << written.err;
    EXPECT_NE(written.err.find("note: layer 'data' (Data) of " + Path("scaled.prototxt")), std::string::npos)
        << args[0] << ": " << written.err;
  }
  const ToolResult folded =
      Run({"optimize", scaled_model, weights, shape, "--input_scale=0.5", scaled_outputs[0], scaled_outputs[1]});
  EXPECT_EQ(folded.exit_code, 0) << folded.err;
  EXPECT_EQ(folded.err.find("note:"), std::string::npos) << folded.err;

  // convert: --to=fully_convolutional takes it too; --to=current, which
  // rewrites the file as written, does not.
  ExpectSuccess(Run({"convert", "--to=fully_convolutional", model, weights, shape,
                     "--output_model=" + Path("fc.prototxt"), "--output_weights=" + Path("fc.caffemodel")}));
  EXPECT_EQ(read_net_text_file(Path("fc.prototxt")).layer(0).input_param().shape(0).dim(2), 8);
  ExpectError(Run({"convert", "--to=current", model, shape, "--output_model=" + Path("current.prototxt")}),
              {"--input_shape", "--to=fully_convolutional"});
}

TEST_F(OptimizeCliTest, AllowExtensionsFusesTheActivations) {
  const ToolResult optimized = Run({"optimize", "--model=" + Path("net.prototxt"), "--weights=" + Path("net.caffemodel"),
                                    "--allow_extensions", "--output_model=" + Path("fused.prototxt"),
                                    "--output_weights=" + Path("fused.caffemodel")});
  ExpectSuccess(optimized);
  EXPECT_EQ(lines_starting(optimized.out, "fuse_activation "), 1) << optimized.out;
  const caffe::NetParameter net = read_net_text_file(Path("fused.prototxt"));
  int fused = 0;
  for (const auto& layer : net.layer()) {
    EXPECT_NE(layer.type(), "ReLU");
    fused += layer.has_fused_activation() ? 1 : 0;
  }
  EXPECT_EQ(fused, 2);  // conv1's and conv2's ReLUs
  ExpectSuccess(RunNet("original", {}));
  ExpectSuccess(Run({"run", "--model=" + Path("fused.prototxt"), "--weights=" + Path("fused.caffemodel"), "--seed=4",
                     "--output_dir=" + Path("fused")}));
  EXPECT_TRUE(npy_near(Path("fused/fc.npy"), Path("original/fc.npy"), 1e-4));

  // Named without the flag: an error that names it.
  ExpectError(Run({"optimize", "--model=" + Path("net.prototxt"), "--passes=fuse_activation",
                   "--output_model=" + Path("o.prototxt"), "--output_weights=" + Path("o.caffemodel")}),
              {"--passes", "fuse_activation", "--allow_extensions"});
  EXPECT_FALSE(std::filesystem::exists(Path("o.prototxt")));
  const ToolResult help = Run({"optimize", "--help"});
  EXPECT_NE(help.out.find("--allow_extensions"), std::string::npos) << help.out;
}

TEST_F(OptimizeCliTest, OptimizeKeepsBlobsAndRunsChosenPasses) {
  // --keep: bn2 survives, with its value; random weights from --seed without --weights.
  ExpectSuccess(Run({"optimize", "--model=" + Path("net.prototxt"), "--seed=9", "--keep=bn2,drop1",
                     "--output_model=" + Path("kept.prototxt"), "--output_weights=" + Path("kept.caffemodel")}));
  ExpectSuccess(RunNet("original", {"--outputs=bn2,drop1"}));
  ExpectSuccess(Run({"run", "--model=" + Path("kept.prototxt"), "--weights=" + Path("kept.caffemodel"), "--seed=4",
                     "--outputs=bn2,drop1", "--output_dir=" + Path("kept")}));
  for (const char* file : {"fc.npy", "bn2.npy", "drop1.npy"}) {
    EXPECT_TRUE(npy_near(Path(std::string("kept/") + file), Path(std::string("original/") + file), 1e-4)) << file;
  }

  // --passes: only those run.
  const ToolResult some = Run({"optimize", "--model=" + Path("net.prototxt"), "--passes=remove_noops",
                               "--output_model=" + Path("noops.prototxt"),
                               "--output_weights=" + Path("noops.caffemodel")});
  ExpectSuccess(some);
  EXPECT_EQ(lines_starting(some.out, "remove_noops "), 1) << some.out;
  EXPECT_EQ(lines_starting(some.out, "fold_batch_norm "), 0) << some.out;
  EXPECT_EQ(read_net_text_file(Path("noops.prototxt")).layer_size(), kFoldableLayers - 1);  // the Dropout
}

TEST_F(OptimizeCliTest, OptimizeErrors) {
  const std::vector<std::string> outputs = {"--output_model=" + Path("o.prototxt"),
                                            "--output_weights=" + Path("o.caffemodel")};
  const auto optimize = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"optimize", "--model=" + Path("net.prototxt")};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  };
  std::vector<std::string> bogus = outputs;
  bogus.push_back("--passes=fold_batch_norm,bogus");
  std::vector<std::string> fragments = {"--passes", "'bogus'"};
  for (const graph::Pass& pass : graph::all_passes()) fragments.push_back(pass.name);
  ExpectError(optimize(bogus), fragments);
  std::vector<std::string> keep = outputs;
  keep.push_back("--keep=nope");
  ExpectError(optimize(keep), {"--keep", "'nope'"});
  ExpectError(optimize({"--output_model=" + Path("o.prototxt")}), {"--output_weights is required"});
  ExpectError(optimize({"--output_weights=" + Path("o.caffemodel")}), {"--output_model is required"});
  EXPECT_FALSE(std::filesystem::exists(Path("o.prototxt")));
  EXPECT_FALSE(std::filesystem::exists(Path("o.caffemodel")));
  ExpectError(Run({"run", "--model=" + Path("net.prototxt"), "--weights=" + Path("net.caffemodel"), "--keep=fc"}),
              {"--keep", "'run'"});

  const ToolResult help = Run({"optimize", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  std::vector<std::string> texts = {"--output_model", "--output_weights", "--passes", "--keep"};
  for (const graph::Pass& pass : graph::all_passes()) texts.push_back(std::string(pass.name) + "  ");
  for (const std::string& text : texts) {
    EXPECT_NE(help.out.find(text), std::string::npos) << "no '" << text << "' in:\n" << help.out;
  }
}

// --mean / --mean_file and --input_scale: the written model reads raw
// pixels and gives what the original gives on (raw - mean) * scale.
class PreprocessCliTest : public OptimizeCliTest {
 protected:
  static constexpr int kInputCount = 2 * 3 * 12 * 12;  // kFoldableNet's data

  void SetUp() override {
    OptimizeCliTest::SetUp();
    raw_.resize(kInputCount);
    for (int i = 0; i < kInputCount; ++i) raw_[i] = static_cast<float>((i * 37) % 256);
    write_npy(Path("raw.npy"), {2, 3, 12, 12}, raw_.data());
  }

  // A .binaryproto holding a BlobProto of `shape` (its last three axes
  // C x H x W), c * 40 + h + w at (c, h, w): not constant over a channel.
  void WriteMeanFile(const std::string& file, const std::vector<int>& shape) const {
    caffe::BlobProto blob;
    int count = 1;
    for (int dim : shape) {
      blob.mutable_shape()->add_dim(dim);
      count *= dim;
    }
    const int h = shape[shape.size() - 2], w = shape.back();
    for (int i = 0; i < count; ++i) blob.add_data(static_cast<float>((i / (h * w)) * 40 + (i / w) % h + i % w));
    write_text(Path(file), blob.SerializeAsString());
  }

  ToolResult Optimize(const std::string& name, std::vector<std::string> extra) const {
    std::vector<std::string> args = {"optimize", "--model=" + Path("net.prototxt"),
                                     "--weights=" + Path("net.caffemodel"), "--output_model=" + Path(name + ".prototxt"),
                                     "--output_weights=" + Path(name + ".caffemodel")};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }

  // The original on `preprocessed` and the optimized `name` on the raw
  // pixels give the same fc (within 1e-5 of its largest value).
  void ExpectSameOutputs(const std::string& name, const std::vector<float>& preprocessed) const {
    write_npy(Path("pre.npy"), {2, 3, 12, 12}, preprocessed.data());
    ExpectSuccess(Run({"run", "--model=" + Path("net.prototxt"), "--weights=" + Path("net.caffemodel"),
                       "--input=" + Path("pre.npy"), "--output_dir=" + Path(name + "_original")}));
    ExpectSuccess(Run({"run", "--model=" + Path(name + ".prototxt"), "--weights=" + Path(name + ".caffemodel"),
                       "--input=" + Path("raw.npy"), "--output_dir=" + Path(name + "_optimized")}));
    EXPECT_TRUE(npy_near(Path(name + "_optimized/fc.npy"), Path(name + "_original/fc.npy"), 1e-5));
  }

  std::vector<float> raw_;
};

TEST_F(PreprocessCliTest, MeanValuesAndScale) {
  const ToolResult result = Optimize("opt", {"--mean=104,117,123", "--input_scale=0.017"});
  ExpectSuccess(result);
  EXPECT_EQ(lines_starting(result.out, "fold_input_preprocessing "), 1) << result.out;
  // conv1 pads: the mean stays a Bias layer, the scale folds into conv1.
  const caffe::NetParameter net = read_net_text_file(Path("opt.prototxt"));
  ASSERT_GE(net.layer_size(), 3);
  EXPECT_EQ(net.layer(1).name(), "data_mean");
  EXPECT_EQ(net.layer(1).type(), "Bias");
  EXPECT_EQ(net.layer(2).name(), "conv1");
  for (const auto& layer : net.layer()) EXPECT_NE(layer.type(), "Power");
  std::vector<float> preprocessed(kInputCount);
  const float mean[] = {104, 117, 123};
  for (int i = 0; i < kInputCount; ++i) preprocessed[i] = (raw_[i] - mean[(i / 144) % 3]) * 0.017f;
  ExpectSameOutputs("opt", preprocessed);

  // --preprocess_input names the input; one mean value serves every channel.
  ExpectSuccess(Optimize("named", {"--mean=120", "--preprocess_input=data"}));
  for (int i = 0; i < kInputCount; ++i) preprocessed[i] = raw_[i] - 120;
  ExpectSameOutputs("named", preprocessed);
}

TEST_F(PreprocessCliTest, MeanFile) {
  for (const std::vector<int>& shape : {std::vector<int>{1, 3, 12, 12}, std::vector<int>{3, 12, 12}}) {
    SCOPED_TRACE(shape.size());
    WriteMeanFile("mean.binaryproto", shape);
    ExpectSuccess(Optimize("opt", {"--mean_file=" + Path("mean.binaryproto"), "--input_scale=0.02"}));
    const caffe::NetParameter net = read_net_text_file(Path("opt.prototxt"));
    ASSERT_GE(net.layer_size(), 2);
    EXPECT_EQ(net.layer(1).type(), "Bias");
    EXPECT_EQ(net.layer(1).bias_param().num_axes(), 3);
    std::vector<float> preprocessed(kInputCount);
    for (int i = 0; i < kInputCount; ++i) {
      const int j = i % 432;  // within the image: c * 144 + h * 12 + w
      preprocessed[i] = (raw_[i] - static_cast<float>((j / 144) * 40 + (j / 12) % 12 + j % 12)) * 0.02f;
    }
    ExpectSameOutputs("opt", preprocessed);
  }
}

TEST_F(PreprocessCliTest, Errors) {
  WriteMeanFile("mean.binaryproto", {1, 3, 12, 12});
  WriteMeanFile("small.binaryproto", {1, 3, 10, 10});
  const std::string mean_file = "--mean_file=" + Path("mean.binaryproto");
  ExpectError(Optimize("o", {"--mean=1,2,3", mean_file}), {"--mean", "--mean_file"});
  ExpectError(Optimize("o", {"--mean_file=" + Path("small.binaryproto")}),
              {Path("small.binaryproto"), "(1,3,10,10)", "(2,3,12,12)", "(3,12,12)"});
  ExpectError(Optimize("o", {"--mean=1,2"}), {"--mean", "2 mean values", "'data'", "3 channels"});
  ExpectError(Optimize("o", {"--mean=1,x,3"}), {"--mean", "'x'"});
  ExpectError(Optimize("o", {"--input_scale=0"}), {"--input_scale"});
  ExpectError(Optimize("o", {"--mean=1,2,3", "--preprocess_input=nope"}), {"--preprocess_input", "'nope'", "data"});
  ExpectError(Optimize("o", {"--preprocess_input=data"}), {"--preprocess_input", "--mean"});
  write_text(Path("garbage.binaryproto"), "this is no blob");
  ExpectError(Optimize("o", {"--mean_file=" + Path("garbage.binaryproto")}), {Path("garbage.binaryproto")});
  ExpectError(Optimize("o", {"--mean_file=" + Path("missing.binaryproto")}), {Path("missing.binaryproto")});
  EXPECT_FALSE(std::filesystem::exists(Path("o.prototxt")));
  EXPECT_FALSE(std::filesystem::exists(Path("o.caffemodel")));

  const ToolResult help = Run({"optimize", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--mean", "--mean_file", "--input_scale", "--preprocess_input"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << "no '" << flag << "' in:\n" << help.out;
  }
}

TEST_F(OptimizeCliTest, RunWithOptimizeGraphMatches) {
  ExpectSuccess(RunNet("plain", {"--outputs=conv1,bn2"}));
  for (const std::string memory : {"", "--optimize_memory"}) {
    SCOPED_TRACE(memory);
    std::vector<std::string> extra = {"--optimize_graph", "--outputs=conv1,bn2"};
    if (!memory.empty()) extra.push_back(memory);
    const ToolResult result = RunNet("graph" + memory, extra);
    ExpectSuccess(result);
    EXPECT_NE(result.out.find("\ngraph: " + std::to_string(kFoldableLayers) + " -> "), std::string::npos)
        << result.out;
    EXPECT_EQ(read_text(Path("graph" + memory + "/input.npy")), read_text(Path("plain/input.npy")));
    for (const char* file : {"fc.npy", "conv1.npy", "bn2.npy"}) {
      EXPECT_TRUE(npy_near(Path("graph" + memory + "/" + file), Path(std::string("plain/") + file), 1e-4)) << file;
    }
  }
  ExpectError(RunNet("bad", {"--optimize_graph", "--outputs=nope"}), {"--outputs", "'nope'"});
}

TEST_F(OptimizeCliTest, BenchWithOptimizeGraphReportsTheLayers) {
  for (const std::string threads : {"1", "2"}) {
    SCOPED_TRACE("--threads=" + threads);
    const auto bench = [&](std::vector<std::string> extra) {
      std::vector<std::string> args = {"bench", "--model=" + Path("net.prototxt"), "--iterations=2", "--warmup=0",
                                       "--json", "--threads=" + threads};
      args.insert(args.end(), extra.begin(), extra.end());
      const ToolResult result = Run(args);
      ExpectSuccess(result);
      Json json;
      EXPECT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
      return json;
    };
    Json plain = bench({});
    EXPECT_EQ(plain.members["optimize_graph"].type, Json::kBool);
    EXPECT_FALSE(plain.members["optimize_graph"].boolean);
    EXPECT_EQ(plain.members["num_layers"].number, kFoldableLayers);
    EXPECT_EQ(plain.members["num_layers_as_written"].number, kFoldableLayers);
    Json optimized = bench({"--optimize_graph"});
    EXPECT_TRUE(optimized.members["optimize_graph"].boolean);
    EXPECT_LT(optimized.members["num_layers"].number, kFoldableLayers);
    EXPECT_EQ(optimized.members["num_layers_as_written"].number, kFoldableLayers);
    EXPECT_LT(optimized.members["weight_bytes"].number, plain.members["weight_bytes"].number);
    if (threads == "1") {
      EXPECT_EQ(static_cast<double>(optimized.members["layers"].items.size()), optimized.members["num_layers"].number);
      // Per-layer times stay truthful: the folded and fused layers are
      // reported under the layer now doing their work (Dropout, a no-op, is
      // just gone).
      std::map<std::string, std::vector<std::string>> fused;
      for (Json& layer : optimized.members["layers"].items) {
        for (const Json& name : layer.members["fused_layers"].items) fused[layer.members["name"].text].push_back(name.text);
      }
      EXPECT_EQ(fused["conv1"], (std::vector<std::string>{"bn1", "scale1", "relu1"}));
      EXPECT_EQ(fused["conv2"], (std::vector<std::string>{"bn2", "scale2", "relu2"}));
      EXPECT_EQ(fused.size(), 2u);
    }
  }
  const ToolResult text =
      Run({"bench", "--model=" + Path("net.prototxt"), "--iterations=1", "--warmup=0", "--optimize_graph"});
  ExpectSuccess(text);
  EXPECT_NE(text.out.find("\nlayers: " + std::to_string(kFoldableLayers) + " -> "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" (--optimize_graph)\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  bn2, scale2, relu2\n"), std::string::npos) << text.out;
}

// --- convert --------------------------------------------------------------

// A small classifier: conv, pool, InnerProduct, ReLU, InnerProduct, Softmax.
// The first InnerProduct reads 2x4x5x5, so it becomes a 5x5 convolution; the
// conv and pool together step 2 pixels per output position.
constexpr const char* kClassifierNet = R"(
name: "classifier"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 12 dim: 12 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
%FLATTEN%
layer { name: "fc1" type: "InnerProduct" bottom: "%FC1_INPUT%" top: "fc1"
        inner_product_param { num_output: 8 %TRANSPOSE% } }
layer { name: "relu1" type: "ReLU" bottom: "fc1" top: "fc1" }
layer { name: "fc2" type: "InnerProduct" bottom: "fc1" top: "fc2" inner_product_param { num_output: 5 %TRANSPOSE% } }
layer { name: "prob" type: "Softmax" bottom: "fc2" top: "prob" })";

// The classifier, with its InnerProducts' weights transposed and a Flatten
// before the first one when asked.
std::string classifier_net(bool transpose, bool flatten) {
  std::string net = kClassifierNet;
  const auto replace = [&](const std::string& key, const std::string& value) {
    for (std::size_t at; (at = net.find(key)) != std::string::npos;) net.replace(at, key.size(), value);
  };
  replace("%FLATTEN%", flatten ? R"(layer { name: "flat" type: "Flatten" bottom: "pool1" top: "flat" })" : "");
  replace("%FC1_INPUT%", flatten ? "flat" : "pool1");
  replace("%TRANSPOSE%", transpose ? "transpose: true" : "");
  return net;
}

// `actual` holds `expected`'s numbers with trailing 1s added to its shape
// (N x C -> N x C x 1 x 1), each within `tolerance` of the largest magnitude.
::testing::AssertionResult npy_same_numbers(const std::string& actual_path, const std::string& expected_path,
                                            double tolerance) {
  const NpyArray actual = read_npy(actual_path), expected = read_npy(expected_path);
  std::vector<int> shape = actual.shape;
  while (shape.size() > expected.shape.size() && shape.back() == 1) shape.pop_back();
  if (shape != expected.shape || actual.data.size() != expected.data.size()) {
    return ::testing::AssertionFailure() << actual_path << ": not the shape of " << expected_path << " plus 1s";
  }
  double scale = 0;
  for (float value : expected.data) scale = std::max(scale, std::fabs(static_cast<double>(value)));
  if (scale == 0) return ::testing::AssertionFailure() << expected_path << " is all zeros";
  for (std::size_t i = 0; i < expected.data.size(); ++i) {
    if (std::fabs(static_cast<double>(actual.data[i]) - expected.data[i]) > tolerance * scale) {
      return ::testing::AssertionFailure() << actual_path << "[" << i << "]: " << actual.data[i] << " vs "
                                           << expected.data[i] << " (scale " << scale << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

class ConvertCliTest : public PredictorCliTest {
 protected:
  // Writes the net and its random weights as <name>.prototxt/.caffemodel and
  // converts them to <name>_fc.prototxt/.caffemodel.
  ToolResult ConvertFullyConvolutional(const std::string& name, const std::string& net_text) const {
    write_text(Path(name + ".prototxt"), net_text);
    const ToolResult init = Run({"init-weights", "--model=" + Path(name + ".prototxt"),
                                 "--output=" + Path(name + ".caffemodel"), "--seed=7"});
    EXPECT_EQ(init.exit_code, 0) << init.err;
    return Run({"convert", "--to=fully_convolutional", "--model=" + Path(name + ".prototxt"),
                "--weights=" + Path(name + ".caffemodel"), "--output_model=" + Path(name + "_fc.prototxt"),
                "--output_weights=" + Path(name + "_fc.caffemodel")});
  }
  ToolResult RunModel(const std::string& name, const std::string& dir, std::vector<std::string> extra) const {
    std::vector<std::string> args = {"run", "--model=" + Path(name + ".prototxt"),
                                     "--weights=" + Path(name + ".caffemodel"), "--output_dir=" + Path(dir)};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }
};

TEST_F(ConvertCliTest, FullyConvolutionalGivesTheSameNumbersAndASpatialMap) {
  const ToolResult converted = ConvertFullyConvolutional("net", classifier_net(false, false));
  ExpectSuccess(converted);
  EXPECT_NE(converted.out.find("fc1: InnerProduct -> Convolution, 8 outputs, kernel 5x5 over 4 channels"),
            std::string::npos)
      << converted.out;
  EXPECT_NE(converted.out.find("fc2: InnerProduct -> Convolution, 5 outputs, 1x1 kernel over 8 channels"),
            std::string::npos)
      << converted.out;
  EXPECT_NE(converted.out.find("output prob: 2x5 -> 2x5x1x1"), std::string::npos) << converted.out;
  EXPECT_NE(converted.out.find("converted 2 InnerProduct layers"), std::string::npos) << converted.out;

  // BVLC types only, the name kept; the weights reshaped.
  const caffe::NetParameter net = read_net_text_file(Path("net_fc.prototxt"));
  EXPECT_EQ(net.name(), "classifier");
  std::map<std::string, const caffe::LayerParameter*> layers;
  for (const auto& layer : net.layer()) {
    layers[layer.name()] = &layer;
    EXPECT_NE(layer.type(), "InnerProduct");
  }
  ASSERT_TRUE(layers.count("fc1") && layers.count("fc2"));
  EXPECT_EQ(layers["fc1"]->type(), "Convolution");
  EXPECT_EQ(layers["fc1"]->convolution_param().kernel_size(0), 5);
  EXPECT_EQ(layers["fc2"]->convolution_param().kernel_size(0), 1);
  const caffe::NetParameter weights = read_net_binary_file(Path("net_fc.caffemodel"));
  for (const auto& layer : weights.layer()) {
    if (layer.name() == "fc1") {
      ASSERT_EQ(layer.blobs_size(), 2);
      EXPECT_EQ(std::vector<int>(layer.blobs(0).shape().dim().begin(), layer.blobs(0).shape().dim().end()),
                (std::vector<int>{8, 4, 5, 5}));
    }
  }

  // Weights drawn from --seed are init-weights' with that seed.
  ExpectSuccess(Run({"convert", "--to=fully_convolutional", "--model=" + Path("net.prototxt"), "--seed=7",
                     "--output_model=" + Path("seeded.prototxt"), "--output_weights=" + Path("seeded.caffemodel")}));
  EXPECT_EQ(read_text(Path("seeded.caffemodel")), read_text(Path("net_fc.caffemodel")));

  // The same numbers at the declared size.
  ExpectSuccess(RunModel("net", "original", {"--seed=3", "--outputs=fc2"}));
  ExpectSuccess(RunModel("net_fc", "converted", {"--seed=3", "--outputs=fc2"}));
  EXPECT_EQ(read_npy(Path("converted/prob.npy")).shape, (std::vector<int>{2, 5, 1, 1}));
  for (const char* file : {"prob.npy", "fc2.npy"}) {
    EXPECT_TRUE(npy_same_numbers(Path(std::string("converted/") + file), Path(std::string("original/") + file), 1e-5))
        << file;
  }

  // A larger input gives a map: (20 - 2) / 2 - 4 = 5 rows, (24 - 2) / 2 - 4 =
  // 7 columns; position (i, j) is the original net on the 12 x 12 window at
  // (2i, 2j).
  ExpectSuccess(RunModel("net_fc", "large", {"--seed=4", "--input_shape=data:1,3,20,24"}));
  const NpyArray map = read_npy(Path("large/prob.npy"));
  ASSERT_EQ(map.shape, (std::vector<int>{1, 5, 5, 7}));
  const NpyArray large = read_npy(Path("large/input.npy"));
  ASSERT_EQ(large.shape, (std::vector<int>{1, 3, 20, 24}));
  for (const auto& [i, j] : std::vector<std::pair<int, int>>{{0, 0}, {1, 2}, {4, 6}}) {
    SCOPED_TRACE("position " + std::to_string(i) + "," + std::to_string(j));
    std::vector<float> window;
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < 12; ++y) {
        for (int x = 0; x < 12; ++x) window.push_back(large.data[(c * 20 + 2 * i + y) * 24 + 2 * j + x]);
      }
    }
    write_npy(Path("window.npy"), {1, 3, 12, 12}, window.data());
    ExpectSuccess(RunModel("net", "window", {"--input=" + Path("window.npy")}));
    const NpyArray expected = read_npy(Path("window/prob.npy"));
    ASSERT_EQ(expected.shape, (std::vector<int>{1, 5}));
    for (int c = 0; c < 5; ++c) EXPECT_NEAR(map.data[(c * 5 + i) * 7 + j], expected.data[c], 1e-5) << "class " << c;
  }
}

TEST_F(ConvertCliTest, FullyConvolutionalTransposesWeightsAndRemovesTheFlatten) {
  const ToolResult converted = ConvertFullyConvolutional("net", classifier_net(true, true));
  ExpectSuccess(converted);
  EXPECT_NE(converted.out.find("flat: Flatten removed (it fed fc1)"), std::string::npos) << converted.out;
  EXPECT_NE(converted.out.find("weights transposed"), std::string::npos) << converted.out;
  EXPECT_NE(converted.out.find("removed 1 Flatten/Reshape layer;"), std::string::npos) << converted.out;
  const caffe::NetParameter net = read_net_text_file(Path("net_fc.prototxt"));
  for (const auto& layer : net.layer()) EXPECT_NE(layer.type(), "Flatten");

  ExpectSuccess(RunModel("net", "original", {"--seed=3", "--outputs=fc2"}));
  ExpectSuccess(RunModel("net_fc", "converted", {"--seed=3", "--outputs=fc2"}));
  for (const char* file : {"prob.npy", "fc2.npy"}) {
    EXPECT_TRUE(npy_same_numbers(Path(std::string("converted/") + file), Path(std::string("original/") + file), 1e-5))
        << file;
  }
  ExpectSuccess(RunModel("net_fc", "large", {"--input_shape=data:2,3,16,14"}));
  EXPECT_EQ(read_npy(Path("large/prob.npy")).shape, (std::vector<int>{2, 5, 3, 2}));
}

// Two heads on one InnerProduct, joined: Split, Concat, Scale, Softmax follow
// the converted layers, their negative axes written as the ones they meant.
TEST_F(ConvertCliTest, FullyConvolutionalLayersAfterTheInnerProducts) {
  const ToolResult converted = ConvertFullyConvolutional("net", R"(
name: "heads"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "fc1" type: "InnerProduct" bottom: "conv1" top: "fc1" inner_product_param { num_output: 6 } }
layer { name: "bn" type: "BatchNorm" bottom: "fc1" top: "fc1" }
layer { name: "split" type: "Split" bottom: "fc1" top: "a" top: "b" }
layer { name: "head_a" type: "InnerProduct" bottom: "a" top: "head_a" inner_product_param { num_output: 3 } }
layer { name: "head_b" type: "InnerProduct" bottom: "b" top: "head_b" inner_product_param { num_output: 2 axis: -1 } }
layer { name: "join" type: "Concat" bottom: "head_a" bottom: "head_b" top: "join" concat_param { axis: -1 } }
layer { name: "scale" type: "Scale" bottom: "join" top: "scaled" scale_param { num_axes: -1 bias_term: true } }
layer { name: "prob" type: "Softmax" bottom: "scaled" top: "prob" softmax_param { axis: -1 } })");
  ExpectSuccess(converted);
  for (const char* line : {"fc1: InnerProduct -> Convolution, 6 outputs, kernel 6x6 over 4 channels",
                           "head_b: InnerProduct -> Convolution, 2 outputs, 1x1 kernel",
                           "join: concat_param.axis -1 -> 1",
                           "scale: scale_param.num_axes -1 -> 1", "prob: softmax_param.axis -1 -> 1",
                           "output prob: 2x5 -> 2x5x1x1", "converted 3 InnerProduct layers"}) {
    EXPECT_NE(converted.out.find(line), std::string::npos) << "no '" << line << "' in:\n" << converted.out;
  }
  ExpectSuccess(RunModel("net", "original", {"--seed=3", "--outputs=join"}));
  ExpectSuccess(RunModel("net_fc", "converted", {"--seed=3", "--outputs=join"}));
  for (const char* file : {"prob.npy", "join.npy"}) {
    EXPECT_TRUE(npy_same_numbers(Path(std::string("converted/") + file), Path(std::string("original/") + file), 1e-5))
        << file;
  }
  ExpectSuccess(RunModel("net_fc", "large", {"--input_shape=data:1,3,11,9"}));
  EXPECT_EQ(read_npy(Path("large/prob.npy")).shape, (std::vector<int>{1, 5, 4, 2}));
}

TEST_F(ConvertCliTest, FullyConvolutionalErrorsNameTheLayer) {
  // axis 2: each of 2 x 4 rows flattened on its own; no convolution does that.
  std::string net = classifier_net(false, false);
  net.replace(net.find("num_output: 8"), 13, "num_output: 8 axis: 2");
  ExpectError(ConvertFullyConvolutional("axis2", net), {Path("axis2.prototxt"), "'fc1'", "axis", "2"});
  EXPECT_FALSE(std::filesystem::exists(Path("axis2_fc.prototxt")));

  // A layer that cannot read a map where it read N x C.
  ExpectError(ConvertFullyConvolutional("reduce", classifier_net(false, false) + R"(
layer { name: "total" type: "Reduction" bottom: "fc2" top: "total" })"),
              {"'total'", "Reduction", "'fc2'"});

  // An InnerProduct on an N x K input has no spatial axes.
  write_text(Path("flat.prototxt"), R"(
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 6 } } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 2 } })");
  ExpectError(Run({"convert", "--to=fully_convolutional", "--model=" + Path("flat.prototxt"),
                   "--output_model=" + Path("o.prototxt"), "--output_weights=" + Path("o.caffemodel")}),
              {"'fc'", "1x6", "spatial"});

  ExpectError(Run({"convert", "--model=" + Path("flat.prototxt"), "--output_model=" + Path("o.prototxt")}),
              {"--to is required"});
  ExpectError(Run({"convert", "--to=onnx", "--model=" + Path("flat.prototxt"), "--output_model=" + Path("o.prototxt")}),
              {"--to", "'onnx'", "fully_convolutional", "current"});
  ExpectError(Run({"convert", "--to=fully_convolutional", "--model=" + Path("flat.prototxt"),
                   "--output_model=" + Path("o.prototxt")}),
              {"--output_weights is required"});
  ExpectError(Run({"convert", "--to=current", "--model=" + Path("flat.prototxt"), "--seed=3",
                   "--output_model=" + Path("o.prototxt")}),
              {"--seed", "fully_convolutional"});
  ExpectError(Run({"convert", "--to=current", "--model=" + Path("flat.prototxt"),
                   "--output_model=" + Path("o.prototxt"),
                   "--output_weights=" + Path("o.caffemodel")}),
              {"--output_weights", "--weights"});
  EXPECT_FALSE(std::filesystem::exists(Path("o.prototxt")));
  ExpectError(Run({"run", "--model=" + Path("flat.prototxt"), "--to=current"}), {"--to", "'run'"});

  const ToolResult help = Run({"convert", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* text : {"--to", "--output_model", "--output_weights", "fully_convolutional  ", "current  "}) {
    EXPECT_NE(help.out.find(text), std::string::npos) << "no '" << text << "' in:\n" << help.out;
  }
}

// A V1 deploy net (input + input_dim, `layers` with enum types).
constexpr const char* kV1Classifier = R"(
name: "v1_classifier"
input: "data" input_dim: 2 input_dim: 3 input_dim: 10 input_dim: 10
layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1"
         blobs_lr: 1 blobs_lr: 2 convolution_param { num_output: 4 kernel_size: 3 } }
layers { name: "relu1" type: RELU bottom: "conv1" top: "conv1" }
layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layers { name: "fc1" type: INNER_PRODUCT bottom: "pool1" top: "fc1" inner_product_param { num_output: 6 } }
layers { name: "prob" type: SOFTMAX bottom: "fc1" top: "prob" })";

// A .caffemodel in the current format rewritten as a V1 one: `layers` with
// enum types, blobs with the legacy num/channels/height/width dimensions.
caffe::NetParameter to_v1_caffemodel(const caffe::NetParameter& current) {
  using V1 = caffe::V1LayerParameter;
  const std::map<std::string, V1::LayerType> types = {{"Convolution", V1::CONVOLUTION},
                                                      {"ReLU", V1::RELU},
                                                      {"Pooling", V1::POOLING},
                                                      {"InnerProduct", V1::INNER_PRODUCT},
                                                      {"Softmax", V1::SOFTMAX}};
  caffe::NetParameter v1;
  v1.set_name(current.name());
  for (const auto& layer : current.layer()) {
    if (layer.type() == "Input") continue;  // the V1 net declares `input`
    V1* out = v1.add_layers();
    out->set_name(layer.name());
    out->set_type(types.at(layer.type()));
    for (const auto& blob : layer.blobs()) {
      caffe::BlobProto* legacy = out->add_blobs();
      std::vector<int> dims(blob.shape().dim().begin(), blob.shape().dim().end());
      dims.insert(dims.begin(), 4 - dims.size(), 1);
      legacy->set_num(dims[0]);
      legacy->set_channels(dims[1]);
      legacy->set_height(dims[2]);
      legacy->set_width(dims[3]);
      *legacy->mutable_data() = blob.data();
    }
  }
  return v1;
}

TEST_F(ConvertCliTest, ToCurrentUpgradesAV1NetAndItsWeights) {
  write_text(Path("v1.prototxt"), kV1Classifier);
  ExpectSuccess(Run({"init-weights", "--model=" + Path("v1.prototxt"), "--output=" + Path("current.caffemodel"),
                     "--seed=2"}));
  write_net_binary_file(to_v1_caffemodel(read_net_binary_file(Path("current.caffemodel"))), Path("v1.caffemodel"));
  ASSERT_GT(read_net_binary_file(Path("v1.caffemodel")).layers_size(), 0);

  const ToolResult converted =
      Run({"convert", "--to=current", "--model=" + Path("v1.prototxt"), "--weights=" + Path("v1.caffemodel"),
           "--output_model=" + Path("up.prototxt"), "--output_weights=" + Path("up.caffemodel")});
  ExpectSuccess(converted);
  EXPECT_NE(converted.out.find(Path("v1.prototxt") + ": 5 V1 layers {} upgraded to layer {}"), std::string::npos)
      << converted.out;
  EXPECT_NE(converted.out.find(Path("v1.caffemodel") + ": 5 V1 layers {} upgraded"), std::string::npos)
      << converted.out;

  const std::string text = read_text(Path("up.prototxt"));
  EXPECT_NE(text.find("layer {"), std::string::npos) << text;
  EXPECT_EQ(text.find("layers {"), std::string::npos) << text;
  const caffe::NetParameter net = read_net_text_file(Path("up.prototxt"));
  EXPECT_EQ(net.name(), "v1_classifier");
  ASSERT_EQ(net.layer_size(), 5);  // as written: `input` stays, no Input layer is made
  EXPECT_EQ(net.input_size(), 1);
  EXPECT_EQ(net.layer(0).type(), "Convolution");
  ASSERT_EQ(net.layer(0).param_size(), 2);  // blobs_lr -> param { lr_mult }
  EXPECT_EQ(net.layer(0).param(1).lr_mult(), 2.0f);
  const caffe::NetParameter weights = read_net_binary_file(Path("up.caffemodel"));
  EXPECT_EQ(weights.layers_size(), 0);
  ASSERT_EQ(weights.layer_size(), 5);
  EXPECT_EQ(weights.layer(3).type(), "InnerProduct");
  ASSERT_EQ(weights.layer(3).blobs_size(), 2);
  EXPECT_EQ(weights.layer(3).blobs(0).height(), 6);  // legacy 4-D blobs stay as they were, as in Caffe's upgrade

  // The same outputs, bit for bit.
  ExpectSuccess(Run({"run", "--model=" + Path("v1.prototxt"), "--weights=" + Path("v1.caffemodel"), "--seed=5",
                     "--output_dir=" + Path("original")}));
  ExpectSuccess(Run({"run", "--model=" + Path("up.prototxt"), "--weights=" + Path("up.caffemodel"), "--seed=5",
                     "--output_dir=" + Path("upgraded")}));
  const std::string prob = read_text(Path("original/prob.npy"));
  EXPECT_GT(prob.size(), 128u);
  EXPECT_EQ(read_text(Path("upgraded/prob.npy")), prob);

  // Files already current: copied unchanged, and said so.
  const ToolResult again =
      Run({"convert", "--to=current", "--model=" + Path("up.prototxt"), "--weights=" + Path("current.caffemodel"),
           "--output_model=" + Path("again.prototxt"), "--output_weights=" + Path("again.caffemodel")});
  ExpectSuccess(again);
  EXPECT_NE(again.out.find(Path("up.prototxt") + ": already in the current format"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("written unchanged"), std::string::npos) << again.out;
  EXPECT_EQ(read_text(Path("again.prototxt")), text);
  EXPECT_EQ(read_text(Path("again.caffemodel")), read_text(Path("current.caffemodel")));
}

TEST_F(ConvertCliTest, ToCurrentKeepsATrainValWhole) {
  write_text(Path("train_val.prototxt"), R"(
name: "v1_train_val"
layers { name: "data" type: DATA top: "data" top: "label" include { phase: TRAIN }
         data_param { source: "train_lmdb" batch_size: 8 crop_size: 10 mirror: true } }
layers { name: "data" type: DATA top: "data" top: "label" include { phase: TEST }
         data_param { source: "val_lmdb" batch_size: 4 crop_size: 10 } }
layers { name: "fc" type: INNER_PRODUCT bottom: "data" top: "fc" inner_product_param { num_output: 3 } }
layers { name: "loss" type: SOFTMAX_LOSS bottom: "fc" bottom: "label" top: "loss" }
layers { name: "accuracy" type: ACCURACY bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } })");
  ExpectSuccess(Run({"convert", "--to=current", "--model=" + Path("train_val.prototxt"),
                     "--output_model=" + Path("up.prototxt")}));
  const caffe::NetParameter net = read_net_text_file(Path("up.prototxt"));
  ASSERT_EQ(net.layer_size(), 5);
  EXPECT_EQ(net.layers_size(), 0);
  EXPECT_EQ(net.layer(0).type(), "Data");
  EXPECT_EQ(net.layer(0).include(0).phase(), caffe::TRAIN);
  EXPECT_EQ(net.layer(0).transform_param().crop_size(), 10u);  // V1 kept it in data_param
  EXPECT_TRUE(net.layer(0).transform_param().mirror());
  EXPECT_EQ(net.layer(1).include(0).phase(), caffe::TEST);
  EXPECT_EQ(net.layer(3).type(), "SoftmaxWithLoss");
  EXPECT_EQ(net.layer(4).type(), "Accuracy");

  // A V0 file is refused, saying how to convert it.
  write_text(Path("v0.prototxt"), R"(layers { layer { name: "fc" type: "innerproduct" } bottom: "data" top: "fc" })");
  ExpectError(Run({"convert", "--to=current", "--model=" + Path("v0.prototxt"),
                   "--output_model=" + Path("o.prototxt")}),
              {Path("v0.prototxt"), "V0", "upgrade_net_proto_text"});
  EXPECT_FALSE(std::filesystem::exists(Path("o.prototxt")));
}

// The zoo: VGG-16 is a V1 file.
TEST_F(ConvertCliTest, ToCurrentOnTheZoosV1File) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const std::string vgg = testing::models_dir() + "/vgg16/deploy.prototxt";
  if (!std::filesystem::exists(vgg)) GTEST_SKIP() << vgg << " is absent";
  ASSERT_NE(read_text(vgg).find("layers {"), std::string::npos) << vgg << " is no longer a V1 file";
  const ToolResult converted =
      Run({"convert", "--to=current", "--model=" + vgg, "--output_model=" + Path("vgg16.prototxt")});
  ExpectSuccess(converted);
  EXPECT_NE(converted.out.find("39 V1 layers {} upgraded"), std::string::npos) << converted.out;
  const std::string text = read_text(Path("vgg16.prototxt"));
  EXPECT_EQ(text.find("layers {"), std::string::npos);
  // The deploy form the runtime executes is the same.
  const caffe::NetParameter original = make_deploy_net(read_net_text_file(vgg), {}, vgg);
  const caffe::NetParameter upgraded = make_deploy_net(read_net_text_file(Path("vgg16.prototxt")), {}, "upgraded");
  EXPECT_EQ(upgraded.DebugString(), original.DebugString());
}

// The zoo's classifiers made fully convolutional, at their declared input
// size on random weights; AlexNet on a larger input too.
struct ZooConversion {
  const char* folder;
  const char* fc6;          // how the first InnerProduct is converted
  const char* large_input;  // --input_shape for a larger input, or ""
  std::vector<int> large_prob;
};

class ConvertZooTest : public ConvertCliTest, public ::testing::WithParamInterface<ZooConversion> {};

TEST_P(ConvertZooTest, FullyConvolutionalGivesTheSameNumbers) {
  const ZooConversion& zoo = GetParam();
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const std::string model = testing::models_dir() + "/" + zoo.folder + "/deploy.prototxt";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << model << " is absent";
  ExpectSuccess(Run({"init-weights", "--model=" + model, "--output=" + Path("w.caffemodel"), "--seed=11"}));
  const ToolResult converted =
      Run({"convert", "--to=fully_convolutional", "--model=" + model, "--weights=" + Path("w.caffemodel"),
           "--output_model=" + Path("fc.prototxt"), "--output_weights=" + Path("fc.caffemodel")});
  ExpectSuccess(converted);
  EXPECT_NE(converted.out.find(zoo.fc6), std::string::npos) << converted.out;
  EXPECT_NE(converted.out.find("converted 3 InnerProduct layers"), std::string::npos) << converted.out;

  ExpectSuccess(Run({"run", "--model=" + model, "--weights=" + Path("w.caffemodel"), "--seed=2", "--outputs=fc8",
                     "--output_dir=" + Path("original")}));
  std::filesystem::remove(Path("w.caffemodel"));  // VGG-16's is half a gigabyte
  ExpectSuccess(Run({"run", "--model=" + Path("fc.prototxt"), "--weights=" + Path("fc.caffemodel"), "--seed=2",
                     "--outputs=fc8", "--output_dir=" + Path("converted")}));
  for (const char* file : {"fc8.npy", "prob.npy"}) {
    EXPECT_TRUE(npy_same_numbers(Path(std::string("converted/") + file), Path(std::string("original/") + file), 1e-4))
        << file;
  }
  if (*zoo.large_input != '\0') {
    ExpectSuccess(Run({"run", "--model=" + Path("fc.prototxt"), "--weights=" + Path("fc.caffemodel"),
                       std::string("--input_shape=") + zoo.large_input, "--output_dir=" + Path("large")}));
    EXPECT_EQ(read_npy(Path("large/prob.npy")).shape, zoo.large_prob);
  }
}

// AlexNet at 259 x 259: pool5 is 7 x 7 instead of 6 x 6, so fc6's 6 x 6
// kernel fits 2 x 2 times.
INSTANTIATE_TEST_SUITE_P(
    Zoo, ConvertZooTest,
    ::testing::Values(ZooConversion{"bvlc_alexnet",
                                    "fc6: InnerProduct -> Convolution, 4096 outputs, kernel 6x6 over 256 channels",
                                    "data:1,3,259,259",
                                    {1, 1000, 2, 2}},
                      ZooConversion{"vgg16",
                                    "fc6: InnerProduct -> Convolution, 4096 outputs, kernel 7x7 over 512 channels", "",
                                    {}}),
    [](const ::testing::TestParamInfo<ZooConversion>& info) { return std::string(info.param.folder); });

// --- errors -------------------------------------------------------------

TEST_F(PredictorCliTest, MissingModelFileIsAnError) {
  const std::string missing = Path("missing.prototxt");
  ExpectError(Run({"init-weights", "--model=" + missing, "--output=" + Path("w.caffemodel")}), {missing});
  ExpectError(Run({"bench", "--model=" + missing}), {missing});
  EXPECT_FALSE(std::filesystem::exists(Path("w.caffemodel")));
}

TEST_F(PredictorCliTest, MalformedPrototxtIsAnError) {
  write_text(Path("garbage.prototxt"), "name: \"x\"\nlayer { this is not { a prototxt\n");
  ExpectError(Run({"init-weights", "--model=" + Path("garbage.prototxt"), "--output=" + Path("w.caffemodel")}),
              {Path("garbage.prototxt"), "line 2"});
}

TEST_F(PredictorCliTest, UnknownLayerTypeIsAnError) {
  write_text(Path("bogus.prototxt"), R"(
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }
layer { name: "strange" type: "Bogus" bottom: "data" top: "out" })");
  ExpectError(Run({"init-weights", "--model=" + Path("bogus.prototxt"), "--output=" + Path("w.caffemodel")}),
              {Path("bogus.prototxt"), "'strange'", "Bogus"});
  ExpectError(Run({"bench", "--model=" + Path("bogus.prototxt")}), {Path("bogus.prototxt"), "'strange'", "Bogus"});
}

TEST_F(PredictorCliTest, InputOfTheWrongShapeIsAnError) {
  const std::vector<float> data(4 * 160 * 160, 0.5f);
  write_npy(Path("four_channels.npy"), {1, 4, 160, 160}, data.data());
  ExpectError(Run({"run", "--model=" + kMobilenet, "--weights=" + MobilenetWeights(),
                   "--input=" + Path("four_channels.npy"), "--output_dir=" + Path("out")}),
              {Path("four_channels.npy"), "1x4x160x160", "'data'", "1x3x160x160"});
  write_npy(Path("flat.npy"), {4, 160}, data.data());
  ExpectError(Run({"run", "--model=" + kMobilenet, "--weights=" + MobilenetWeights(), "--input=" + Path("flat.npy"),
                   "--output_dir=" + Path("out")}),
              {Path("flat.npy"), "'data'"});
  write_text(Path("not.npy"), "this is no numpy file");
  ExpectError(Run({"run", "--model=" + kMobilenet, "--weights=" + MobilenetWeights(), "--input=" + Path("not.npy"),
                   "--output_dir=" + Path("out")}),
              {Path("not.npy")});
  EXPECT_FALSE(std::filesystem::exists(Path("out")));
}

TEST_F(PredictorCliTest, InputsThatAreNotRegularFilesOrHoldNoSampleAreErrors) {
  const std::string fifo = Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const auto run = [&](const std::string& input) {
    return Run({"run", "--model=" + kMobilenet, "--weights=" + MobilenetWeights(), "--input=" + input,
                "--output_dir=" + Path("out")});
  };
  // Never a reader blocked on a FIFO, an endless read or a size nonsense.
  ExpectError(run(fifo), {fifo, "not a regular file"});
  ExpectError(run("/dev/zero"), {"/dev/zero", "not a regular file"});
  ExpectError(run(dir_), {dir_, "not a regular file"});
  const float none = 0.0f;
  write_npy(Path("empty_batch.npy"), {0, 3, 160, 160}, &none);
  ExpectError(run(Path("empty_batch.npy")), {Path("empty_batch.npy"), "no sample"});
  // name=path naming no input of a one-input net.
  ExpectError(run("image=" + Path("x.npy")), {"no input 'image'", "'data'"});
  EXPECT_FALSE(std::filesystem::exists(Path("out")));
}

TEST_F(PredictorCliTest, EmptyCaffemodelIsAnError) {
  write_text(Path("empty.caffemodel"), "");
  ExpectError(
      Run({"run", "--model=" + kMobilenet, "--weights=" + Path("empty.caffemodel"), "--output_dir=" + Path("out")}),
      {Path("empty.caffemodel"), "empty file"});
}

TEST_F(PredictorCliTest, TruncatedCaffemodelIsAnError) {
  const std::string weights = read_text(MobilenetWeights());
  ASSERT_FALSE(weights.empty());
  write_text(Path("half.caffemodel"), weights.substr(0, weights.size() / 2));
  ExpectError(Run({"run", "--model=" + kMobilenet, "--weights=" + Path("half.caffemodel"),
                   "--output_dir=" + Path("out")}),
              {Path("half.caffemodel")});
  ExpectError(Run({"bench", "--model=" + kMobilenet, "--weights=" + Path("half.caffemodel")}),
              {Path("half.caffemodel")});
}

TEST_F(PredictorCliTest, UsageErrors) {
  ToolResult result = Run({});
  EXPECT_TRUE(result.exited);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("usage: predictor <command>"), std::string::npos) << result.err;

  result = Run({"frobnicate"});
  EXPECT_TRUE(result.exited);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("usage: predictor <command>"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("predictor: error: unknown command 'frobnicate'"), std::string::npos) << result.err;

  ExpectError(Run({"run", "--model=" + kMobilenet}), {"--weights is required"});
  ExpectError(Run({"init-weights", "--model=" + kMobilenet}), {"--output is required"});
  ExpectError(Run({"run", "--model=" + kMobilenet, "--iterations=3"}), {"--iterations", "'run'"});
  ExpectError(Run({"bench", "--model=" + kMobilenet, "--batch=-1"}), {"--batch"});
  ExpectError(Run({"bench", "--model=" + kMobilenet, "--threads=0"}), {"--threads"});
  // An input too large for one blob, before anything is allocated (with
  // --threads too, whose input net is never shaped).
  for (const char* threads : {"--threads=1", "--threads=2"}) {
    ExpectError(Run({"bench", "--model=" + kMobilenet, "--batch=100000", threads}),
                {kMobilenet, "--batch=100000", "input 'data'", "2147483647"});
  }
  ExpectError(Run({"bench", "--model=" + kMobilenet, "--input_shape=data:1,x"}), {"--input_shape", "'x'"});
  ExpectError(Run({"bench", "--model=" + kMobilenet, "--input_shape=nope:1,3,160,160"}), {"'nope'"});

  ExpectError(Run({"init-weights", "--model=" + kMobilenet, "--output=" + Path("w.caffemodel"), "extra"}),
              {"'extra'"});

  result = Run({"run", "--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("--output_dir"), std::string::npos) << result.out;
  // --batch's sentinel default (0) is not a value the flag accepts: the help
  // says what the default means instead of offering 0.
  ExpectError(Run({"run", "--model=" + kMobilenet, "--weights=w", "--batch=0"}), {"--batch must be at least 1"});
  const std::size_t batch = result.out.find("--batch");
  ASSERT_NE(batch, std::string::npos) << result.out;
  const std::string batch_line = result.out.substr(batch, result.out.find('\n', batch) - batch);
  EXPECT_NE(batch_line.find("default: the batch the model declares"), std::string::npos) << batch_line;
  EXPECT_EQ(batch_line.find("0 keeps"), std::string::npos) << batch_line;
  EXPECT_EQ(batch_line.find("(default: 0)"), std::string::npos) << batch_line;
}

}  // namespace
}  // namespace predictor
