# Finds predictor's dependencies: Debian packages installed by scripts/setup.sh.

find_package(Protobuf REQUIRED)
find_package(glog REQUIRED)
find_package(gflags REQUIRED)
find_package(Threads REQUIRED)

# OpenBLAS: Debian installs its cblas.h under an alternatives-managed folder.
find_path(OpenBLAS_INCLUDE_DIR cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas
        /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/x86_64-linux-gnu/openblas-serial
  NO_DEFAULT_PATH)
find_path(OpenBLAS_INCLUDE_DIR cblas.h)
find_library(OpenBLAS_LIBRARY NAMES openblas)
if(NOT OpenBLAS_INCLUDE_DIR OR NOT OpenBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS not found: run scripts/setup.sh (libopenblas-dev)")
endif()
# The static archive of the thread-safe (pthread) variant, linked privately
# into the shared libpredictor (src/CMakeLists.txt explains why).
find_library(OpenBLAS_STATIC_LIBRARY NAMES libopenblas.a
  PATHS /usr/lib/x86_64-linux-gnu/openblas-pthread /usr/lib/aarch64-linux-gnu/openblas-pthread
  NO_DEFAULT_PATH)
if(NOT OpenBLAS_STATIC_LIBRARY)
  message(STATUS "predictor: no static pthread OpenBLAS; libpredictor uses the shared one")
endif()
add_library(predictor_openblas INTERFACE)
target_include_directories(predictor_openblas INTERFACE ${OpenBLAS_INCLUDE_DIR})
target_link_libraries(predictor_openblas INTERFACE ${OpenBLAS_LIBRARY})

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
