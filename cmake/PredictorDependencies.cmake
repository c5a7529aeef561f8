# Finds predictor's dependencies: Debian packages installed by scripts/setup.sh.

find_package(Protobuf REQUIRED)
find_package(glog REQUIRED)
find_package(gflags REQUIRED)
find_package(Threads REQUIRED)

# OpenBLAS: not a dependency of the library (its products run in
# predictor's own kernels, kernels/cpu), only the baseline that
# bench_sgemm and bench_gemv compare those kernels against; they are built
# when it is found. Debian installs its cblas.h under an alternatives-managed
# folder.
find_path(OpenBLAS_INCLUDE_DIR cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas
        /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/x86_64-linux-gnu/openblas-serial
  NO_DEFAULT_PATH)
find_path(OpenBLAS_INCLUDE_DIR cblas.h)
find_library(OpenBLAS_LIBRARY NAMES openblas)
if(OpenBLAS_INCLUDE_DIR AND OpenBLAS_LIBRARY)
  add_library(predictor_openblas INTERFACE)
  target_include_directories(predictor_openblas INTERFACE ${OpenBLAS_INCLUDE_DIR})
  target_link_libraries(predictor_openblas INTERFACE ${OpenBLAS_LIBRARY})
else()
  message(STATUS "OpenBLAS not found: bench_sgemm and bench_gemv (which compare against it) not built")
endif()

# CUDA is optional: the backend is built when nvcc is found.
set(PREDICTOR_HAVE_CUDA OFF)
if(PREDICTOR_ENABLE_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Volta (sm_70) to Hopper (sm_90): machine code for the common GPUs
      # (T4, A100, A10/RTX 30, L4/RTX 40, H100/H200) plus PTX of sm_90 that
      # newer GPUs compile at load. CUDA 13 dropped sm_70, so there sm_75 is
      # the oldest. Building for one GPU is faster:
      # -DCMAKE_CUDA_ARCHITECTURES=90 (the lent H200).
      execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --version OUTPUT_VARIABLE nvcc_version_text)
      string(REGEX MATCH "release ([0-9]+)" nvcc_release "${nvcc_version_text}")
      set(CMAKE_CUDA_ARCHITECTURES 75-real 80-real 86-real 89-real 90)
      if(CMAKE_MATCH_1 AND CMAKE_MATCH_1 LESS 13)
        list(PREPEND CMAKE_CUDA_ARCHITECTURES 70-real)
      endif()
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(PREDICTOR_HAVE_CUDA ON)
  endif()
endif()
