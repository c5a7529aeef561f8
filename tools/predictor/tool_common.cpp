#include "tool_common.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <system_error>

#include "cuda/cuda_api.h"
#include "json_writer.h"
#include "predictor/Error.h"

namespace predictor::tool {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

std::string shape_text(const std::vector<int>& shape) {
  if (shape.empty()) return "()";
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? "x" : "") + std::to_string(shape[i]);
  return text;
}

std::string file_safe_name(const std::string& name) {
  std::string safe = name;
  for (char& c : safe) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                         c == '_' || c == '-';
    if (!allowed) c = '_';
  }
  return safe;
}

void create_directories(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw Error(dir + ": cannot create directory: " + error.message());
}

std::string join_path(const std::string& dir, const std::string& file) {
  return (std::filesystem::path(dir) / file).string();
}

void set_batch(Net* net, int batch) {
  for (std::size_t i = 0; i < net->input_blobs().size(); ++i) {
    Blob* input = net->input_blobs()[i];
    std::vector<int> shape = input->shape();
    if (shape.empty()) {
      throw Error(net->source() + ": --batch: input '" + net->input_names()[i] + "' is 0-d and has no batch dimension");
    }
    shape[0] = batch;
    try {
      input->Reshape(shape);
    } catch (const Error& error) {
      throw Error(net->source() + ": --batch=" + std::to_string(batch) + ": input '" + net->input_names()[i] +
                  "': " + error.what());
    }
  }
}

void fill_random_inputs(Net* net, std::uint32_t seed) {
  // mt19937's output is fully specified by the standard, unlike the
  // standard distributions: map it to floats by hand for portable data.
  std::mt19937 rng(seed);
  for (Blob* input : net->input_blobs()) {
    float* data = input->mutable_cpu_data();
    for (std::size_t i = 0; i < input->count(); ++i) {
      const float unit = static_cast<float>(rng() >> 8) * (1.0f / 16777216.0f);  // [0, 1), 24 bits
      data[i] = 2.0f * unit - 1.0f;
    }
  }
}

int net_batch(const Net& net) {
  const Blob& first_input = *net.input_blobs()[0];
  return first_input.num_axes() > 0 ? first_input.shape(0) : 1;
}

std::string device_name_of(const Device& device) { return device.is_cuda() ? cuda::device_name(device.id) : ""; }

std::string device_text(const Device& device) {
  return device.is_cuda() ? device.to_string() + " (" + device_name_of(device) + ")" : device.to_string();
}

void note_unapplied_preprocessing(const Model& model) {
  for (const std::string& sentence : model.unapplied_preprocessing()) {
    std::cerr << "note: " << sentence
              << ": give preprocessed input, or fold it into the model with `predictor optimize "
                 "--mean/--mean_file/--input_scale`\n";
  }
}

void print_input_shapes(const Net& net) {
  for (std::size_t i = 0; i < net.input_names().size(); ++i) {
    std::cout << "input " << net.input_names()[i] << ": " << shape_text(net.input_blobs()[i]->shape()) << "\n";
  }
}

void write_input_shapes_json(const Net& net, JsonWriter* json) {
  json->Key("inputs");
  json->BeginArray();
  for (std::size_t i = 0; i < net.input_names().size(); ++i) {
    json->BeginObject();
    json->Key("name");
    json->String(net.input_names()[i]);
    json->Key("shape");
    json->BeginArray();
    for (int dim : net.input_blobs()[i]->shape()) json->Integer(dim);
    json->EndArray();
    json->EndObject();
  }
  json->EndArray();
}

double elapsed_ms(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

std::string format_ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", ms);
  return text;
}

}  // namespace predictor::tool
