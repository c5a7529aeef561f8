// Loads a prototxt with random weights and runs it through the public API.
#include <predictor/Predictor.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer model.prototxt\n";
    return 2;
  }
  try {
    predictor::Predictor predictor(predictor::Model::WithRandomWeightsFromFile(argv[1], 1));
    predictor::Blob input(predictor.input_shapes()[0]);
    for (const auto& [name, blob] : predictor.forward({&input})) {
      std::cout << name << ": " << blob->shape_string() << "\n";
    }
  } catch (const predictor::Error& error) {
    std::cerr << error.what() << "\n";
    return 1;
  }
  return 0;
}
