#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan, coverage
# into libpredictor; CUDA, benchmarks and examples off) in build-fuzz and runs
# each for a bounded time. Corpora grow under build-fuzz/fuzz/corpus/<target>
# (seeded from the project's own files by tests/fuzz/make_corpus.py, merged
# after each run); crashes, leaks, timeouts and out-of-memory inputs land in
# build-fuzz/fuzz/artifacts/<target>/. Exits non-zero on any finding.
#   scripts/fuzz.sh [seconds per target] [target ...]
# Defaults: 60 s, every target (fuzz_prototxt fuzz_caffemodel
# fuzz_net_forward). FUZZ_BUILD_DIR overrides the build folder.
#
# A finding: minimise it, save it as a regression, fix it (README: "Fuzzing
# and sanitizers"):
#   build-fuzz/tests/fuzz/<target> -minimize_crash=1 -max_total_time=60 -timeout=10 \
#       -exact_artifact_path=tests/fuzz/regressions/<target>/<name> <artifact>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(fuzz_prototxt fuzz_caffemodel fuzz_net_forward)

"$root/scripts/setup.sh" fuzz
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
start=$SECONDS
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DPREDICTOR_BUILD_FUZZERS=ON -DPREDICTOR_SANITIZER=address,undefined -DPREDICTOR_ENABLE_CUDA=OFF \
  -DPREDICTOR_BUILD_BENCHMARKS=OFF -DPREDICTOR_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --target fuzzers predictor_tool -j "$(nproc)"
echo "fuzz: built in $((SECONDS - start)) s"

work=$build/fuzz
tool=$build/tools/predictor/predictor
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OPENBLAS_NUM_THREADS=1

# Seeds: regenerated every run from the project's files.
rm -rf "$work/seeds"
mkdir -p "$work/seeds"
for seed in 1 2; do
  "$tool" init-weights --model="$root/tests/fuzz/caffemodel_net.prototxt" \
    --output="$work/seeds/caffemodel_net.$seed.caffemodel" --seed=$seed >/dev/null
done
python3 "$root/tests/fuzz/make_corpus.py" --out "$work/seeds" --caffemodel "$work/seeds"/*.caffemodel

failed=()
for target in "${targets[@]}"; do
  binary=$build/tests/fuzz/$target
  corpus=$work/corpus/$target
  artifacts=$work/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  case $target in
    fuzz_prototxt) seeds=$work/seeds/prototxt; extra=(-dict="$work/seeds/prototxt.dict") ;;
    fuzz_net_forward) seeds=$work/seeds/net_forward; extra=(-dict="$work/seeds/prototxt.dict") ;;
    fuzz_caffemodel) seeds=$work/seeds/caffemodel; extra=() ;;
    *) echo "fuzz: unknown target $target" >&2; exit 2 ;;
  esac
  regressions=()
  [[ -d $root/tests/fuzz/regressions/$target ]] && regressions=("$root/tests/fuzz/regressions/$target")
  echo
  echo "== $target: ${seconds} s"
  log=$work/$target.log
  rc=0
  "$binary" "${extra[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=32768 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "$corpus" "$seeds" "${regressions[@]}" >"$log" 2>&1 || rc=$?
  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)" "$log" || true
  if ((rc != 0)); then
    echo "fuzz: $target FAILED (exit $rc); the log's end ($log):"
    tail -n 60 "$log"
    failed+=("$target")
    continue
  fi
  # Keep the corpus small: merge it (with the seeds) into a minimal set.
  rm -rf "$corpus.merged"
  mkdir -p "$corpus.merged"
  if "$binary" -merge=1 -timeout=10 -rss_limit_mb=2048 -max_len=32768 \
       "$corpus.merged" "$corpus" "$seeds" >"$work/$target.merge.log" 2>&1; then
    rm -rf "$corpus"
    mv "$corpus.merged" "$corpus"
  else
    echo "fuzz: $target: corpus merge failed (see $work/$target.merge.log); corpus kept as is"
    rm -rf "$corpus.merged"
  fi
  echo "fuzz: $target corpus: $(find "$corpus" -type f | wc -l) inputs"
done

echo
echo "fuzz: done in $((SECONDS - start)) s"
if ((${#failed[@]})); then
  echo "fuzz: findings in ${failed[*]} (artifacts under $work/artifacts)" >&2
  exit 1
fi
