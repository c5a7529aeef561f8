// libpredictor and BVLC's generated classes loaded as plugins, each with
// dlopen(RTLD_LOCAL) as Python extensions and serving backends are.
//   coexist_dlopen libbvlc.so libpredictor_plugin.so bvlc_first|predictor_first model weights
#include <dlfcn.h>

#include <cstdio>
#include <cstring>

#include "check_reports.h"

namespace {

using LoadFunction = int (*)(const char*, const char*, char*, std::size_t);

void* open_plugin(const char* path) {
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) std::fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
  return handle;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 || (std::strcmp(argv[3], "bvlc_first") != 0 && std::strcmp(argv[3], "predictor_first") != 0)) {
    std::fprintf(stderr, "usage: coexist_dlopen bvlc.so predictor_plugin.so bvlc_first|predictor_first model weights\n");
    return 2;
  }
  const bool bvlc_first = std::strcmp(argv[3], "bvlc_first") == 0;
  void* first = open_plugin(bvlc_first ? argv[1] : argv[2]);
  void* second = open_plugin(bvlc_first ? argv[2] : argv[1]);
  if (first == nullptr || second == nullptr) return 1;
  void* bvlc_handle = bvlc_first ? first : second;
  void* predictor_handle = bvlc_first ? second : first;
  auto bvlc_load = reinterpret_cast<LoadFunction>(dlsym(bvlc_handle, "bvlc_load_model"));
  auto predictor_run = reinterpret_cast<LoadFunction>(dlsym(predictor_handle, "predictor_run_model"));
  if (bvlc_load == nullptr || predictor_run == nullptr) {
    std::fprintf(stderr, "dlsym: %s\n", dlerror());
    return 1;
  }
  char bvlc[512], predictor[512];
  if (bvlc_load(argv[4], argv[5], bvlc, sizeof bvlc) != 0) return std::puts(bvlc), 1;
  if (predictor_run(argv[4], argv[5], predictor, sizeof predictor) != 0) return std::puts(predictor), 1;
  return check_reports(bvlc, predictor);
}
