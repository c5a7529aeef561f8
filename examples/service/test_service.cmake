# CTest script of example_service (cmake -P): random weights for the example
# model, then the service in both modes. Each run checks every output against
# a single-threaded run and exits 1 on any mismatch or error.
# Variables: PREDICTOR_TOOL, SERVICE, MODEL, WORK_DIR.
include(${CMAKE_CURRENT_LIST_DIR}/../test_steps.cmake)

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(weights ${WORK_DIR}/weights.caffemodel)
run_step(init-weights EXIT 0
  COMMAND ${PREDICTOR_TOOL} init-weights --model=${MODEL} --output=${weights} --seed=1)
set(service ${SERVICE} --model=${MODEL} --weights=${weights} --workers=3 --requests=24 --queue=4 --max_seconds=120)

set(served "completed 24 requests in [0-9.]+ s, 0 failed")
set(measured "throughput: [0-9.]+ requests/s\nlatency \\(ms, end to end, queueing included\\): p50 [0-9.]+  p99 [0-9.]+")
# Replicas: one per worker thread while serving, none once they have exited.
run_step(direct EXIT 0 COMMAND ${service}
  STDOUT_MATCHES "${served}" "${measured}" "replicas: 3 while serving \\(one per worker thread\\), 0 after")
run_step(direct-optimize-memory EXIT 0 COMMAND ${service} --optimize_memory
  STDOUT_MATCHES "activation memory per replica: [0-9.]+ MB planned" "${served}" "replicas: 3 while serving")
# A pool worker creates its replica on its first request: at most 3.
run_step(pooled EXIT 0 COMMAND ${service} --pooled
  STDOUT_MATCHES "PooledPredictor with 3 workers" "${served}" "${measured}" "replicas: [1-3] while serving [^\n]+, 0 after")
run_step(paced EXIT 0 COMMAND ${service} --rate=200
  STDOUT_MATCHES "at 200 requests/s" "${served}")
run_step(bad-flag EXIT 1 COMMAND ${service} --workers=0
  STDERR_MATCHES "^service: error: --workers must be at least 1\n$")
