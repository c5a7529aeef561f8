#pragma once
// Helpers shared by the commands: shapes and file names in messages, net
// inputs (batch, random data), devices, timing.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor::tool {

class JsonWriter;

// `text` cut at every `separator` ("a,,b" -> "a", "", "b").
std::vector<std::string> split(const std::string& text, char separator);
// "1x3x224x224"; "()" for a 0-d shape.
std::string shape_text(const std::vector<int>& shape);
// A blob name as a file name: characters outside [A-Za-z0-9._-] become '_'.
std::string file_safe_name(const std::string& name);
// Creates `dir` and its parents if missing; throws predictor::Error.
void create_directories(const std::string& dir);
std::string join_path(const std::string& dir, const std::string& file);

// Sets the first dimension of every net input to `batch`.
void set_batch(Net* net, int batch);
// Fills every net input, in order, with uniform [-1, 1) floats drawn from
// one generator seeded with `seed`; the same on every platform.
void fill_random_inputs(Net* net, std::uint32_t seed);
// The first dimension of the first net input (1 for a 0-d input).
int net_batch(const Net& net);
// "cpu", or "gpu:N (<device name>)" for a CUDA device.
std::string device_text(const Device& device);
// The device's name as the CUDA runtime gives it; empty for the CPU.
std::string device_name_of(const Device& device);

// On stderr, each of the model's Model::unapplied_preprocessing sentences
// as a note, with how to give or fold that preprocessing: so that nobody
// compares outputs of raw pixels with Caffe's.
void note_unapplied_preprocessing(const Model& model);

// "input <name>: <shape>" lines, and the same as a JSON "inputs" member.
void print_input_shapes(const Net& net);
void write_input_shapes_json(const Net& net, JsonWriter* json);

using Clock = std::chrono::steady_clock;
double elapsed_ms(Clock::time_point start, Clock::time_point end);
// Milliseconds with three decimals.
std::string format_ms(double ms);

}  // namespace predictor::tool
