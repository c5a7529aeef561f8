// A plugin built on libpredictor: loads the model and runs one forward.
#include <predictor/Predictor.h>

#include <cstdio>
#include <string>

#include "coexistence.h"

extern "C" int predictor_run_model(const char* prototxt, const char* caffemodel, char* report, std::size_t size) {
  try {
    predictor::Predictor predictor(prototxt, caffemodel);
    predictor::Blob input(predictor.input_shapes()[0]);
    float* data = input.mutable_cpu_data();
    for (std::size_t i = 0; i < input.count(); ++i) data[i] = static_cast<float>(i % 17) / 17.0f;
    const auto& outputs = predictor.forward({&input});
    const predictor::Blob* prob = outputs.at(predictor.output_names()[0]);
    double sum = 0;
    for (std::size_t i = 0; i < prob->count(); ++i) sum += prob->cpu_data()[i];
    std::snprintf(report, size, "%zu values; output %s %s, sum %.6f", predictor.model().weight_bytes() / sizeof(float),
                  predictor.output_names()[0].c_str(), prob->shape_string().c_str(), sum);
    return 0;
  } catch (const predictor::Error& error) {
    std::snprintf(report, size, "predictor side: %s", error.what());
    return 1;
  }
}
