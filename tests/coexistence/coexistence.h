#pragma once
// The C entry points of the two sides of the coexistence test: each loads a
// model (prototxt + caffemodel) through its own generated protobuf classes
// and writes a one-line report. They return 0 on success.

#include <cstddef>

extern "C" {
// BVLC's side: parses both files with ::caffe (BVLC's schema) and reports
// the layers, the weight values and which schema its classes come from.
int bvlc_load_model(const char* prototxt, const char* caffemodel, char* report, std::size_t report_size);
// predictor's side: a Predictor from the files, one forward.
int predictor_run_model(const char* prototxt, const char* caffemodel, char* report, std::size_t report_size);
}
