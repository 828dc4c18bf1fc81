#!/usr/bin/env bash
# Builds the fuzz targets with clang's libFuzzer, AddressSanitizer and UBSan, and runs them.
#   fuzz/run.sh [TARGET|all] [SECONDS] [JOBS]   (default: pickle, 600 seconds, 1 job)
#   fuzz/run.sh SECONDS [JOBS]                  (the pickle target, as before)
# TARGET: pickle, safetensors, manifest, csv, tokenizer (fuzz/README.md); `all` runs them one
# after the other, SECONDS each. Needs Debian's clang and libclang-rt-dev (apt-get install clang
# libclang-rt-14-dev); the safetensors and manifest targets also LibTorch.
# Targets build in build-fuzz/cmake (fuzz/CMakeLists.txt). The pickle target's seeds are the
# committed fixtures (every protocol, npy files, hostile files) in build-fuzz/seeds, its corpus
# build-fuzz/corpus, its crashes build-fuzz/crash-*; the other targets' seeds come from
# fuzz/make_seeds.py, into build-fuzz/<target>/seeds, with build-fuzz/<target>/corpus and
# build-fuzz/<target>/crash-*. Each run's log is build-fuzz/<target>.log; libFuzzer's final stats
# (executions, rate, peak memory) are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
all_targets=(pickle safetensors manifest csv tokenizer)
target=pickle
if [ $# -gt 0 ] && ! [[ "$1" =~ ^[0-9]+$ ]]; then
  target="$1"
  shift
fi
seconds="${1:-600}"
jobs="${2:-1}"
if [ "$target" = all ]; then
  targets=("${all_targets[@]}")
elif [[ " ${all_targets[*]} " == *" $target "* ]]; then
  targets=("$target")
else
  echo "unknown target '$target' (one of: ${all_targets[*]} all)" >&2
  exit 2
fi
root="$PWD"
out=build-fuzz
mkdir -p "$out"
if [ ! -f "$out/cmake/build.ninja" ]; then
  cmake -S fuzz -B "$out/cmake" -G Ninja -DCMAKE_CXX_COMPILER=clang++ > /dev/null
fi
cmake --build "$out/cmake" -j"$(nproc)" --target "${targets[@]/%/_fuzzer}"

pickle_seeds() {
  mkdir -p "$out/corpus" "$out/seeds"
  find tests/fixtures/clipclap_release \( -name '*.pkl' -o -name '*.npy' \) -size -64k -exec cp {} "$out/seeds/" \; 2>/dev/null || true
  # data.pkl of the zip checkpoints (the torch dialect, with placeholders), and whole legacy-format
  # files (the legacy container: several pickles, then raw storages)
  for pt in tests/fixtures/clipclap_release/*.pt tests/fixtures/torch_save/*.pt; do
    if unzip -l "$pt" > /dev/null 2>&1; then
      unzip -p "$pt" '*/data.pkl' > "$out/seeds/$(basename "$pt" .pt).data.pkl" 2>/dev/null || true
    elif [ "$(stat -c %s "$pt")" -le 65536 ]; then
      cp "$pt" "$out/seeds/"
    fi
  done
}

failed=()
parallel=()
[ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")  # libFuzzer then logs to fuzz-N.log
for t in "${targets[@]}"; do
  options=(-max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=30 -print_final_stats=1)
  [ -f "fuzz/$t.dict" ] && options+=(-dict="$root/fuzz/$t.dict")
  if [ "$t" = pickle ]; then
    pickle_seeds
    run_dir="$out"
  else
    python3 fuzz/make_seeds.py "$out/seeds-all" > /dev/null
    run_dir="$out/$t"
    mkdir -p "$run_dir/corpus"
    rm -rf "$run_dir/seeds"
    cp -r "$out/seeds-all/$t" "$run_dir/seeds"
  fi
  echo "== $t: ${seconds}s, log in $out/$t.log"
  set +e
  (cd "$run_dir" && "$root/$out/cmake/${t}_fuzzer" corpus seeds "${options[@]}" "${parallel[@]}" -artifact_prefix=./) \
    > "$out/$t.log" 2>&1
  status=$?
  set -e
  grep -E '^(stat::|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written|==avgzsl-fuzz==)' "$out/$t.log" || true
  if [ "$status" -ne 0 ]; then
    echo "$t: libFuzzer exited with $status (see $out/$t.log)"
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}"
  exit 1
fi
