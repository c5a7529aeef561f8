# Installs predictor into a scratch prefix, then builds and runs a consumer
# with find_package(predictor), and checks the pkg-config flags resolve.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P install_consumer.cmake
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
set(ENV{LD_LIBRARY_PATH} "${WORK_DIR}/prefix/lib:${WORK_DIR}/prefix/lib/x86_64-linux-gnu")
run(${WORK_DIR}/build/consumer ${SOURCE_DIR}/models/predictor_mobilenet/deploy.prototxt)
if(NOT last_output MATCHES "prob: 1 1000 \\(1000\\)")
  message(FATAL_ERROR "unexpected consumer output: ${last_output}")
endif()
file(GLOB_RECURSE pc_file ${WORK_DIR}/prefix/*/predictor.pc)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
run(pkg-config --cflags predictor)
if(NOT last_output MATCHES "${WORK_DIR}/prefix/")
  message(FATAL_ERROR "pkg-config does not point into the install prefix: ${last_output}")
endif()
message(STATUS "installed predictor works through find_package and pkg-config")
