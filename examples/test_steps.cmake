# Helpers for the examples' CTest scripts (run with cmake -P): run one step,
# echo its output, and stop the test with an error when it does not behave.
#
#   run_step(<name> EXIT <status> COMMAND <command...>
#            [STDOUT_MATCHES <regex...>] [STDERR_MATCHES <regex...>])
#
# Every regex must match. The step's stdout is left in STEP_STDOUT.
function(run_step name)
  cmake_parse_arguments(STEP "" "EXIT" "COMMAND;STDOUT_MATCHES;STDERR_MATCHES" ${ARGN})
  execute_process(COMMAND ${STEP_COMMAND}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
  string(REPLACE ";" " " command_line "${STEP_COMMAND}")
  message("---- ${name}: ${command_line}\n${out}${err}---- exit status ${status}")
  if(NOT "${status}" STREQUAL "${STEP_EXIT}")
    message(FATAL_ERROR "${name}: exit status ${status}, expected ${STEP_EXIT}")
  endif()
  foreach(regex IN LISTS STEP_STDOUT_MATCHES)
    if(NOT out MATCHES "${regex}")
      message(FATAL_ERROR "${name}: stdout does not match '${regex}'")
    endif()
  endforeach()
  foreach(regex IN LISTS STEP_STDERR_MATCHES)
    if(NOT err MATCHES "${regex}")
      message(FATAL_ERROR "${name}: stderr does not match '${regex}'")
    endif()
  endforeach()
  set(STEP_STDOUT "${out}" PARENT_SCOPE)
endfunction()
