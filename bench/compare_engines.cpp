// Side by side with OpenCV's dnn module (Debian's libopencv-dnn-dev), an
// independent implementation of Caffe's layers: the same prototxt, the same
// weights (drawn by the library, written as a .caffemodel that OpenCV reads),
// the same input (batch 1) and the same number of compute threads inside one
// forward. The outputs are compared first (a mismatch is reported, never
// hidden); then the engines are timed in alternating rounds and the medians
// printed as a Markdown table:
//   predictor      Optimization::GRAPH, PredictorOptions::compute_threads = N
//   predictor -G   the same without the graph passes
//   OpenCV dnn     DNN_BACKEND_OPENCV, DNN_TARGET_CPU, cv::setNumThreads(N)
//
//   build/bench/compare_engines [--models=resnet18,mobilenet_v2|path.prototxt,...] [--threads=1,2]
//       [--rounds=15] [--iterations=4] [--warmup=3] [--optimize_memory] [--tolerance=1e-4]
//       [--zoo=DIR] [--json=FILE]
//
// Each round runs every engine once, in an order rotated from round to round,
// for one untimed forward (the previous engine's threads go idle) and then
// --iterations timed ones; a median is over all rounds' timed forwards.
// Exit status 1 when a model failed or its outputs differ beyond --tolerance.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/text_format.h>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/dnn.hpp>

#include "bench_common.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Predictor.h"

namespace predictor::bench {
namespace {

struct Options {
  std::vector<std::string> models = {"bvlc_alexnet", "bvlc_googlenet",  "densenet121", "inception_v3",
                                     "mobilenet_v1", "mobilenet_v2",    "resnet18",    "resnet50",
                                     "squeezenet_v1.1", "vgg16"};
  std::vector<int> threads = {1, 2};
  int rounds = 15;
  int iterations = 4;
  int warmup = 3;
  bool optimize_memory = false;
  double tolerance = 1e-4;
  std::string zoo;
  std::string json;
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "compare_engines: " << problem
            << "\nusage: compare_engines [--models=a,b|x.prototxt] [--threads=1,2] [--rounds=R] [--iterations=K] "
               "[--warmup=W] [--optimize_memory] [--tolerance=T] [--zoo=DIR] [--json=FILE]\n";
  std::exit(2);
}

int positive(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  const long number = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || number < 1 || number > 100000) usage(flag + ": expected a positive integer");
  return static_cast<int>(number);
}

Options parse(int argc, char** argv) {
  Options options;
  options.zoo = models_dir();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    const std::string key = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? std::string() : arg.substr(eq + 1);
    if (key == "--models") {
      options.models = split(value);
    } else if (key == "--threads") {
      options.threads.clear();
      for (const auto& t : split(value)) options.threads.push_back(positive(key, t));
    } else if (key == "--rounds") {
      options.rounds = positive(key, value);
    } else if (key == "--iterations") {
      options.iterations = positive(key, value);
    } else if (key == "--warmup") {
      options.warmup = positive(key, value);
    } else if (key == "--optimize_memory") {
      options.optimize_memory = true;
    } else if (key == "--tolerance") {
      options.tolerance = std::atof(value.c_str());
    } else if (key == "--zoo") {
      options.zoo = value;
    } else if (key == "--json") {
      options.json = value;
    } else if (key == "--help" || key == "-h") {
      usage("help");
    } else {
      usage("unknown flag " + arg);
    }
  }
  if (options.models.empty() || options.threads.empty()) usage("--models and --threads need values");
  return options;
}

// A zoo folder name (its deploy.prototxt) or a path to a .prototxt.
std::string resolve(const std::string& name, const std::string& zoo) {
  if (std::filesystem::is_regular_file(name)) return name;
  return (std::filesystem::path(zoo) / name / "deploy.prototxt").string();
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5)];
}

// OpenCV reaches BLAS (Debian: the shared OpenBLAS) through its core module;
// give that BLAS the same thread count as the forward. libpredictor's own
// OpenBLAS is a private static copy with its symbols hidden, so this only
// ever finds the one OpenCV uses.
void set_shared_blas_threads(int n) {
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(n);
}

// ---- what OpenCV reads ------------------------------------------------------

// OpenCV 4.6 ignores Caffe's LRN k (it uses 1). Caffe's
// x / (k + alpha/n sum x^2)^beta = k^-beta * x / (1 + (alpha/k)/n sum x^2)^beta,
// so OpenCV gets LRN with alpha/k and a Power layer of scale k^-beta, as
// scripts/compare_opencv.py does. Returns the path of the derived definition,
// or the original path when no LRN sets k != 1; `note` says what changed.
std::string opencv_definition(const std::string& prototxt, const caffe::NetParameter& deploy,
                              const std::filesystem::path& work, std::string* note) {
  caffe::NetParameter derived = deploy;
  derived.clear_layer();
  bool changed = false;
  for (const auto& layer : deploy.layer()) {
    const bool across = layer.type() == "LRN" &&
                        layer.lrn_param().norm_region() == caffe::LRNParameter::ACROSS_CHANNELS;
    if (!across || layer.lrn_param().k() == 1.0f) {
      *derived.add_layer() = layer;
      continue;
    }
    changed = true;
    const float k = layer.lrn_param().k();
    const float beta = layer.lrn_param().beta();
    caffe::LayerParameter* lrn = derived.add_layer();
    *lrn = layer;
    lrn->mutable_lrn_param()->set_k(1.0f);
    lrn->mutable_lrn_param()->set_alpha(layer.lrn_param().alpha() / k);
    const std::string unit = layer.top(0) + "/lrn_unit_k";
    lrn->set_top(0, unit);
    caffe::LayerParameter* power = derived.add_layer();
    power->set_name(layer.name() + "/k_scale");
    power->set_type("Power");
    power->add_bottom(unit);
    power->add_top(layer.top(0));
    power->mutable_power_param()->set_scale(static_cast<float>(std::pow(k, -beta)));
  }
  if (!changed) return prototxt;
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(derived, &text)) throw Error("cannot print the OpenCV definition");
  const auto path = work / "opencv.prototxt";
  std::ofstream(path) << text;
  *note = "OpenCV: LRN k folded into alpha and a Power scale";
  return path.string();
}

// The blobs compared: every net output and, for an output a Softmax makes,
// the Softmax's input (with random weights the probabilities saturate and
// would hide differences the logits show). With, for each, the layer OpenCV
// names it by: the last layer that writes it (as its first top).
struct Compared {
  std::string blob;
  std::string opencv_layer;
};

std::vector<Compared> compared_blobs(const caffe::NetParameter& deploy, const std::vector<std::string>& outputs) {
  auto writer = [&](const std::string& blob) -> const caffe::LayerParameter* {
    for (int i = deploy.layer_size() - 1; i >= 0; --i) {
      const auto& layer = deploy.layer(i);
      if (layer.top_size() > 0 && layer.top(0) == blob) return &layer;
    }
    throw Error("no layer writes blob '" + blob + "' as its first top (OpenCV names outputs by layer)");
  };
  std::vector<Compared> compared;
  for (const auto& output : outputs) {
    const caffe::LayerParameter* layer = writer(output);
    if (layer->type() == "Softmax" && layer->bottom_size() == 1 && layer->bottom(0) != output) {
      compared.push_back({layer->bottom(0), writer(layer->bottom(0))->name()});
    }
    compared.push_back({output, layer->name()});
  }
  return compared;
}

// max |a - b| / max |b| (b: OpenCV's), the measure of compare_opencv.py.
double relative_diff(const float* a, const float* b, std::size_t count) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < count; ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / (scale > 0 ? scale : 1.0);
}

double relative_diff(const Blob& ours, const cv::Mat& theirs, const std::string& name) {
  if (theirs.total() != ours.count()) {
    throw Error("blob '" + name + "': predictor has " + std::to_string(ours.count()) + " values, OpenCV " +
                std::to_string(theirs.total()));
  }
  return relative_diff(ours.cpu_data(), theirs.ptr<float>(), ours.count());
}

// OpenCV at N threads against OpenCV at one.
double relative_diff(const cv::Mat& mat, const cv::Mat& reference) {
  if (mat.total() != reference.total()) throw Error("OpenCV's output changed size with the thread count");
  return relative_diff(mat.ptr<float>(), reference.ptr<float>(), mat.total());
}

// ---- one model ----------------------------------------------------------------

struct Engine {
  std::string name;
  std::function<void()> forward;
  std::vector<double> ms;
};

struct Row {
  std::string model;
  int threads = 0;
  double rel_diff = 0;  // the worst of every comparison made for this row
  std::vector<Engine> engines;
  std::string note;
  std::string error;
};

class ModelCase {
 public:
  ModelCase(const Options& options, const std::string& name, const std::filesystem::path& work)
      : options_(options), name_(name) {
    prototxt_ = resolve(name, options.zoo);
    if (!std::filesystem::is_regular_file(prototxt_)) throw Error("no " + prototxt_);
    model_ = Model::WithRandomWeightsFromFile(prototxt_, 1);
    caffe::NetParameter weights;
    model_->ToCaffemodel(&weights);
    caffemodel_ = (work / "weights.caffemodel").string();
    {
      std::ofstream out(caffemodel_, std::ios::binary);
      if (!weights.SerializeToOstream(&out)) throw Error("cannot write " + caffemodel_);
    }
    opencv_prototxt_ = opencv_definition(prototxt_, model_->net(), work, &note_);

    // One batch-1 input per net input, uniform [-1, 1), shared by every engine.
    Predictor probe(model_);
    input_names_ = probe.input_names();
    for (std::size_t i = 0; i < input_names_.size(); ++i) {
      std::vector<int> shape = probe.input_shapes()[i];
      shape[0] = 1;
      inputs_.push_back(std::make_unique<Blob>(shape));
      fill_random(*inputs_.back(), 3 + static_cast<unsigned>(i));
      input_ptrs_.push_back(inputs_.back().get());
    }
    compared_ = compared_blobs(model_->net(), probe.output_names());

    net_ = cv::dnn::readNetFromCaffe(opencv_prototxt_, caffemodel_);
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      const Blob& blob = *inputs_[i];
      cv::Mat mat(blob.num_axes(), blob.shape().data(), CV_32F, const_cast<float*>(blob.cpu_data()));
      net_.setInput(mat, input_names_[i]);
    }
  }

  // Every compared blob of predictor (with and without GRAPH) against
  // OpenCV's; the worst relative difference.
  double check() {
    std::vector<cv::String> layers;
    for (const auto& c : compared_) layers.push_back(c.opencv_layer);
    std::vector<cv::Mat> theirs;
    cv::setNumThreads(1);
    net_.forward(theirs, layers);
    for (const cv::Mat& mat : theirs) reference_.push_back(mat.clone());
    double worst = 0;
    for (const Optimization optimization : {Optimization::GRAPH, Optimization::NONE}) {
      PredictorOptions po;
      po.optimization = optimization;
      for (const auto& c : compared_) po.extra_outputs.push_back(c.blob);
      Predictor predictor(model_, po);
      std::vector<std::string> names;
      for (const auto& c : compared_) names.push_back(c.blob);
      const auto ours = predictor.forward(input_ptrs_, names);
      for (std::size_t i = 0; i < compared_.size(); ++i) {
        worst = std::max(worst, relative_diff(*ours[i], reference_[i], compared_[i].blob));
      }
    }
    return worst;
  }

  // The timed engines at `threads` compute threads, run alternately.
  Row time(int threads) {
    Row row;
    row.model = name_;
    row.threads = threads;
    row.note = note_;
    const Optimization memory = options_.optimize_memory ? Optimization::MEMORY : Optimization::NONE;
    std::vector<std::unique_ptr<Predictor>> predictors;
    for (const Optimization optimization : {Optimization::GRAPH | memory, memory}) {
      PredictorOptions po;
      po.optimization = optimization;
      po.compute_threads = threads;
      predictors.push_back(std::make_unique<Predictor>(model_, po));
    }
    cv::setNumThreads(threads);
    set_shared_blas_threads(threads);
    // The timed instances' outputs, at this thread count, against OpenCV's
    // one-thread values; OpenCV's first, before its net is set up for the
    // plain forward() that is timed.
    const cv::Mat opencv_output = net_.forward(compared_.back().opencv_layer);
    row.rel_diff = relative_diff(opencv_output, reference_.back());
    for (const auto& predictor : predictors) {
      const auto& outputs = predictor->forward(input_ptrs_);
      for (std::size_t i = 0; i < compared_.size(); ++i) {
        const auto it = outputs.find(compared_[i].blob);
        if (it != outputs.end()) {
          row.rel_diff = std::max(row.rel_diff, relative_diff(*it->second, reference_[i], it->first));
        }
      }
    }
    row.engines.push_back({"predictor", [&] { predictors[0]->forward(input_ptrs_); }, {}});
    row.engines.push_back({"predictor -G", [&] { predictors[1]->forward(input_ptrs_); }, {}});
    row.engines.push_back({"OpenCV dnn", [&] { net_.forward(); }, {}});
    for (auto& engine : row.engines) {
      for (int i = 0; i < options_.warmup; ++i) engine.forward();
    }

    const std::size_t count = row.engines.size();
    for (int round = 0; round < options_.rounds; ++round) {
      for (std::size_t k = 0; k < count; ++k) {
        Engine& engine = row.engines[(k + static_cast<std::size_t>(round)) % count];
        engine.forward();  // untimed: the previous engine's threads settle
        for (int i = 0; i < options_.iterations; ++i) {
          const auto start = std::chrono::steady_clock::now();
          engine.forward();
          const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
          engine.ms.push_back(elapsed.count());
        }
      }
    }
    return row;
  }

 private:
  const Options& options_;
  std::string name_;
  std::string prototxt_;
  std::string caffemodel_;
  std::string opencv_prototxt_;
  std::string note_;
  std::shared_ptr<const Model> model_;
  std::vector<std::string> input_names_;
  std::vector<std::unique_ptr<Blob>> inputs_;
  std::vector<Blob*> input_ptrs_;
  std::vector<Compared> compared_;
  std::vector<cv::Mat> reference_;  // OpenCV's values of compared_, one thread
  cv::dnn::Net net_;
};

// ---- report -------------------------------------------------------------------

std::string fixed(double value, int digits) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return buffer;
}

std::string scientific(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1e", value);
  return buffer;
}

// The "Parallel framework:" line of OpenCV's build information (TBB on Debian).
std::string opencv_parallel_framework() {
  std::istringstream info(cv::getBuildInformation());
  for (std::string line; std::getline(info, line);) {
    const auto at = line.find("Parallel framework:");
    if (at != std::string::npos) {
      const auto value = line.find_first_not_of(' ', at + 19);
      return value == std::string::npos ? "" : line.substr(value);
    }
  }
  return "unknown";
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

void print_row(const Row& row, double tolerance) {
  if (!row.error.empty()) {
    std::cout << "| " << row.model << " | | failed: " << row.error << " | | | | | |"
              << std::endl;
    return;
  }
  const double graph = median(row.engines[0].ms), plain = median(row.engines[1].ms);
  const double opencv = median(row.engines[2].ms);
  std::cout << "| " << row.model << " | " << row.threads << " | " << scientific(row.rel_diff)
            << (row.rel_diff > tolerance ? " **MISMATCH**" : "") << " | " << fixed(graph, 2) << " | "
            << fixed(plain, 2) << " | " << fixed(opencv, 2) << " | " << fixed(opencv / graph, 2) << "x | "
            << fixed(opencv / plain, 2) << "x |" << (row.note.empty() ? "" : " " + row.note) << std::endl;
}

void write_json(const std::string& path, const Options& options, const std::vector<Row>& rows) {
  std::ofstream out(path);
  out << "{\n  \"opencv_version\": \"" << CV_VERSION << "\",\n  \"opencv_parallel\": \""
      << opencv_parallel_framework() << "\",\n  \"cpu\": \"" << cpu_model() << "\",\n  \"rounds\": "
      << options.rounds << ",\n  \"iterations\": " << options.iterations << ",\n  \"optimize_memory\": "
      << (options.optimize_memory ? "true" : "false") << ",\n  \"rows\": [";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const Row& row = rows[r];
    out << (r ? "," : "") << "\n    {\"model\": \"" << row.model << "\", \"threads\": " << row.threads;
    if (!row.error.empty()) {
      std::string escaped;
      for (char c : row.error) escaped += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
      out << ", \"error\": \"" << escaped << "\"}";
      continue;
    }
    out << ", \"max_rel_diff\": " << row.rel_diff << ", \"note\": \"" << row.note << "\", \"engines\": {";
    for (std::size_t e = 0; e < row.engines.size(); ++e) {
      const auto& ms = row.engines[e].ms;
      out << (e ? ", " : "") << "\"" << row.engines[e].name << "\": {\"median_ms\": " << median(ms)
          << ", \"p10_ms\": " << percentile(ms, 0.1) << ", \"p90_ms\": " << percentile(ms, 0.9)
          << ", \"samples\": " << ms.size() << "}";
    }
    out << "}}";
  }
  out << "\n  ]\n}\n";
}

int run(const Options& options) {
  std::cout << "OpenCV " << CV_VERSION << " dnn (DNN_BACKEND_OPENCV, DNN_TARGET_CPU, parallel framework "
            << opencv_parallel_framework() << ") vs predictor; " << cpu_model() << "\n"
            << "batch 1, random weights (seed 1) written as a .caffemodel both read, input uniform [-1, 1); "
            << "threads = compute threads inside one forward (cv::setNumThreads, compute_threads); medians of "
            << options.rounds << " alternating rounds x " << options.iterations << " forwards"
            << (options.optimize_memory ? "; predictor with Optimization::MEMORY" : "") << "\n"
            << "predictor: Optimization::GRAPH; predictor -G: without the graph passes; max rel diff: "
            << "max |predictor - OpenCV| / max |OpenCV| over the outputs (and a final Softmax's input), "
            << "tolerance " << options.tolerance << "; a ratio above 1: predictor is faster\n\n"
            << "| model | threads | max rel diff | predictor ms | predictor -G ms | OpenCV dnn ms | "
            << "OpenCV ÷ predictor | OpenCV ÷ predictor -G |\n|---|---:|---:|---:|---:|---:|---:|---:|" << std::endl;
  std::vector<Row> rows;
  int failures = 0;
  for (std::size_t m = 0; m < options.models.size(); ++m) {
    const std::string& name = options.models[m];
    const auto work = std::filesystem::temp_directory_path() /
                      ("compare_engines_" + std::to_string(::getpid()) + "_" + std::to_string(m));
    std::filesystem::create_directories(work);
    try {
      ModelCase model_case(options, name, work);
      const double checked = model_case.check();
      for (int threads : options.threads) {
        Row row = model_case.time(threads);
        row.rel_diff = std::max(row.rel_diff, checked);
        failures += row.rel_diff > options.tolerance;
        print_row(row, options.tolerance);
        rows.push_back(std::move(row));
      }
    } catch (const std::exception& error) {  // predictor::Error, cv::Exception
      Row row;
      row.model = name;
      std::string what = error.what();
      std::replace(what.begin(), what.end(), '\n', ' ');
      row.error = what.substr(0, 200);
      print_row(row, options.tolerance);
      rows.push_back(std::move(row));
      ++failures;
    }
    std::filesystem::remove_all(work);
  }
  if (!options.json.empty()) write_json(options.json, options, rows);
  if (failures) std::cerr << "compare_engines: " << failures << " failure(s) or mismatch(es)" << std::endl;
  return failures ? 1 : 0;
}

}  // namespace
}  // namespace predictor::bench

int main(int argc, char** argv) { return predictor::bench::run(predictor::bench::parse(argc, argv)); }
