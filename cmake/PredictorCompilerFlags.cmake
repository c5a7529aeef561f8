# Warnings and optional sanitizers for predictor's own targets.

add_library(predictor_warnings INTERFACE)
target_compile_options(predictor_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)

if(PREDICTOR_NATIVE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()

# libFuzzer targets (tests/fuzz): clang only. Everything built gets libFuzzer's
# coverage instrumentation (so that it reaches into libpredictor); the fuzz
# targets alone link its driver. ASan + UBSan unless another sanitizer is set.
option(PREDICTOR_BUILD_FUZZERS "Build the libFuzzer targets of tests/fuzz (clang only)" OFF)
if(PREDICTOR_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PREDICTOR_BUILD_FUZZERS needs clang (CC=clang CXX=clang++)")
  endif()
  if(NOT PREDICTOR_SANITIZER)
    set(PREDICTOR_SANITIZER "address,undefined" CACHE STRING "" FORCE)
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
endif()

if(PREDICTOR_SANITIZER)
  if(NOT PREDICTOR_SANITIZER MATCHES "^(thread|address|undefined|address,undefined|undefined,address)$")
    message(FATAL_ERROR "PREDICTOR_SANITIZER must be thread, address, undefined or address,undefined")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${PREDICTOR_SANITIZER}>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>)
  if(PREDICTOR_SANITIZER MATCHES "undefined")
    # Undefined behaviour fails the run instead of printing and going on.
    add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=undefined>)
  endif()
  add_link_options(-fsanitize=${PREDICTOR_SANITIZER})
endif()
