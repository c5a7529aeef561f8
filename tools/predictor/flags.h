#pragma once
// Flags shared by several commands, and their validation. Flags that only
// one command reads are defined in that command's file.

#include <cstdint>
#include <string>

#include <gflags/gflags.h>

#include "predictor/Device.h"
#include "predictor/LoadOptions.h"
#include "predictor/Precision.h"

DECLARE_string(model);
DECLARE_string(weights);
DECLARE_string(input_shape);
DECLARE_string(pooling_rule);
DECLARE_int32(batch);
DECLARE_uint32(seed);
DECLARE_bool(json);
DECLARE_bool(optimize_memory);
DECLARE_bool(optimize_graph);
DECLARE_string(memory_strategy);
DECLARE_string(device);
DECLARE_string(precision);
DECLARE_int32(compute_threads);

namespace predictor::tool {

// Whether --name was given on the command line (not left at its default).
bool flag_was_given(const char* name);
// Throws predictor::Error("--name is required") when the flag is empty.
void require_flag(const char* name, const std::string& value);

// LoadOptions with --input_shape ("name:d0,d1,...;name2:...") and
// --pooling_rule applied.
LoadOptions load_options_from_flags();
// --batch, validated: 0 when not given (keep the declared batch). It
// replaces every input's first dimension, --input_shape's included.
int batch_from_flags();

// Throws predictor::Error naming --`flag` unless `strategy` is a memory
// planning strategy the library knows.
void check_memory_strategy(const char* flag, const std::string& strategy);
// --optimize_memory, validated with --memory_strategy, which needs it.
bool optimize_memory_from_flags();

// --compute_threads, validated: 1 to PredictorOptions::kMaxComputeThreads.
int compute_threads_from_flags();

// --device, parsed (Device::parse) and, for a GPU, checked to exist: throws
// predictor::Error naming --device and the device otherwise.
Device device_from_flags();

// --precision, parsed; anything but fp32 needs a GPU `device`: throws
// predictor::Error naming --precision otherwise.
Precision precision_from_flags(const Device& device);

}  // namespace predictor::tool
