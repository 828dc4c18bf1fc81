#!/usr/bin/env bash
# Builds the parser fuzz target with clang's libFuzzer, AddressSanitizer and UBSan, and runs it.
#   fuzz/run.sh [SECONDS] [JOBS]        (default: 600 seconds, 1 job)
# Needs Debian's clang and libclang-rt-dev (apt-get install clang libclang-rt-14-dev).
# The seed corpus is the committed fixtures (every protocol, npy files, hostile files); new
# inputs that find new paths go to build-fuzz/corpus, crashes to build-fuzz/crash-*.
# Prints libFuzzer's final stats: executions, rate, peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
jobs="${2:-1}"
out=build-fuzz
mkdir -p "$out/corpus" "$out/seeds"
clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude \
  fuzz/pickle_fuzzer.cpp src/io/python_pickle.cpp src/io/torch_save_format.cpp src/io/numpy_file.cpp -o "$out/pickle_fuzzer"
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
parallel=()
[ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")  # libFuzzer then logs to fuzz-N.log
cd "$out"
./pickle_fuzzer corpus seeds -max_total_time="$seconds" "${parallel[@]}" \
  -max_len=65536 -rss_limit_mb=2048 -artifact_prefix=./ -print_final_stats=1
