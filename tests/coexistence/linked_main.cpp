// libpredictor and BVLC's generated classes linked into one program.
//   coexist_linked model.prototxt weights.caffemodel
#include <cstdio>

#include "check_reports.h"
#include "coexistence.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: coexist_linked model.prototxt weights.caffemodel\n");
    return 2;
  }
  char bvlc[512], predictor[512];
  if (bvlc_load_model(argv[1], argv[2], bvlc, sizeof bvlc) != 0) return std::puts(bvlc), 1;
  if (predictor_run_model(argv[1], argv[2], predictor, sizeof predictor) != 0) return std::puts(predictor), 1;
  // Again, interleaved: the two sets of classes stay apart after both ran.
  if (bvlc_load_model(argv[1], argv[2], bvlc, sizeof bvlc) != 0) return std::puts(bvlc), 1;
  return check_reports(bvlc, predictor);
}
