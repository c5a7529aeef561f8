# Warnings and optional sanitizers for predictor's own targets.

add_library(predictor_warnings INTERFACE)
target_compile_options(predictor_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)

if(PREDICTOR_NATIVE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()

if(PREDICTOR_SANITIZER)
  if(NOT PREDICTOR_SANITIZER MATCHES "^(thread|address|undefined)$")
    message(FATAL_ERROR "PREDICTOR_SANITIZER must be thread, address or undefined")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${PREDICTOR_SANITIZER}>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>)
  add_link_options(-fsanitize=${PREDICTOR_SANITIZER})
endif()
