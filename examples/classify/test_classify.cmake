# CTest script of example_classify (cmake -P): random weights for the example
# model, then classify every test image, and check the error paths.
# Variables: PREDICTOR_TOOL, CLASSIFY, MODEL, TESTDATA, WORK_DIR.
include(${CMAKE_CURRENT_LIST_DIR}/../test_steps.cmake)

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(weights ${WORK_DIR}/weights.caffemodel)
run_step(init-weights EXIT 0
  COMMAND ${PREDICTOR_TOOL} init-weights --model=${MODEL} --output=${weights} --seed=1)
set(classify ${CLASSIFY} --model=${MODEL} --weights=${weights})

# The class count, from a first run, sizes the labels files.
run_step(count-classes EXIT 0
  COMMAND ${classify} --image=${TESTDATA}/rgb.png
  STDOUT_MATCHES "top 5 of [0-9]+ classes")
string(REGEX MATCH "top 5 of ([0-9]+) classes" _ "${STEP_STDOUT}")
set(classes ${CMAKE_MATCH_1})
set(labels "")
math(EXPR last "${classes} - 1")
foreach(i RANGE ${last})
  string(APPEND labels "label_${i}\n")
endforeach()
file(WRITE ${WORK_DIR}/labels.txt "${labels}")
string(REGEX REPLACE "label_${last}\n$" "" short_labels "${labels}")
file(WRITE ${WORK_DIR}/short_labels.txt "${short_labels}")

# Every decoding path: RGB, grayscale and interlaced RGBA PNG, color and
# grayscale JPEG. Three ranked lines, each with its label.
set(ranked " 1\\. class +[0-9]+  score [-+.e0-9]+  label_[0-9]+\n +2\\. [^\n]+label_[0-9]+\n +3\\. [^\n]+label_[0-9]+\n$")
foreach(image rgb.png gray.png rgba.png photo.jpg gray.jpg)
  run_step(classify-${image} EXIT 0
    COMMAND ${classify} --image=${TESTDATA}/${image} --labels=${WORK_DIR}/labels.txt
            --mean=104,117,123 --top=3
    STDOUT_MATCHES "-> [0-9]+x[0-9]+ BGR, mean 104,117,123, scale 1\n" "${ranked}")
endforeach()
run_step(classify-rgb-order EXIT 0
  COMMAND ${classify} --image=${TESTDATA}/photo.jpg --channel_order=rgb --mean=128 --scale=0.0078125
  STDOUT_MATCHES "photo.jpg: 64x48 -> [0-9]+x[0-9]+ RGB, mean 128, scale 0.0078125\n")

# Exact preprocessing: channel_means.prototxt outputs the per-channel
# averages of the net input; the solid images make them known values.
run_step(init-weights-channel-means EXIT 0
  COMMAND ${PREDICTOR_TOOL} init-weights --model=${TESTDATA}/channel_means.prototxt
          --output=${WORK_DIR}/channel_means.caffemodel)
set(means ${CLASSIFY} --model=${TESTDATA}/channel_means.prototxt --weights=${WORK_DIR}/channel_means.caffemodel --top=3)
foreach(case
    "bgr|solid.png|2 200|1 100|0 50"
    "rgb|solid.png --channel_order=rgb|0 200|1 100|2 50"
    "rgba-mean-scale|solid_rgba.png --mean=10,20,30 --scale=0.5|2 85|1 40|0 20"
    "gray|solid_gray.png --mean=0,10,20|0 100|1 90|2 80")
  string(REPLACE "|" ";" case "${case}")
  list(POP_FRONT case name arguments)
  set(ranked "")
  set(rank 0)
  foreach(class_and_score IN LISTS case)  # what remains: "class score", best first
    math(EXPR rank "${rank} + 1")
    string(REPLACE " " " +score " class_and_score "${class_and_score}")
    string(APPEND ranked " +${rank}\\. class +${class_and_score}\\.000000\n")
  endforeach()
  separate_arguments(arguments UNIX_COMMAND "--image=${TESTDATA}/${arguments}")
  run_step(channel-means-${name} EXIT 0 COMMAND ${means} ${arguments} STDOUT_MATCHES "${ranked}$")
endforeach()

# Errors: exit status 1 and one line on stderr.
file(WRITE ${WORK_DIR}/not_an_image.png "plain text\n")
set(one_error_line "^classify: error: [^\n]+\n$")
foreach(case
    "truncated.jpg|--image=${TESTDATA}/truncated.jpg|corrupt JPEG"
    "truncated.png|--image=${TESTDATA}/truncated.png|corrupt PNG"
    "text-file|--image=${WORK_DIR}/not_an_image.png|not a JPEG or PNG"
    "missing-image|--image=${WORK_DIR}/missing.jpg|cannot open image"
    "short-labels|--image=${TESTDATA}/rgb.png --labels=${WORK_DIR}/short_labels.txt|has ${last} labels"
    "bad-order|--image=${TESTDATA}/rgb.png --channel_order=grb|--channel_order must be"
    "bad-mean|--image=${TESTDATA}/rgb.png --mean=1,2|--mean has 2 values")
  string(REPLACE "|" ";" case "${case}")
  list(POP_FRONT case name arguments expected)
  separate_arguments(arguments UNIX_COMMAND "${arguments}")
  run_step(error-${name} EXIT 1 COMMAND ${classify} ${arguments}
    STDERR_MATCHES "${one_error_line}" "${expected}")
endforeach()
# An output that is not one score per class (here the net input, 1 x 3 x 5 x
# 7): an error, not a ranking of its 105 values.
run_step(error-not-scores EXIT 1
  COMMAND ${means} --image=${TESTDATA}/solid.png --output=data
  STDERR_MATCHES "${one_error_line}" "output 'data' has shape \\(1,3,5,7\\), not one score per class")
