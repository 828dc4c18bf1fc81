#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of the unit tests of the untrusted-input layers:
# io (safetensors, pickle, torch.save, npy: io_test), media (FFmpeg decoding: media_test),
# preprocessing (tokenizers, image transform: preprocessing_test), the reference release
# reader (release_test) and the figure library (class names of any bytes into SVG, PNG, PDF: plot_test). Called by scripts/test.sh after ctest; also runs on its own.
#   scripts/sanitize.sh            (build dir: build-asan)
# Any ASan report, leak or UB (-fno-sanitize-recover=undefined) fails the test binary, so the script.
# Only our code is instrumented: LibTorch, FFmpeg, ICU, RE2, cairo are Debian's builds. The LSan
# suppressions below cover leaks whose allocation stack is inside LibTorch's own libraries or
# fontconfig only (their one-time registries, caches and thread pools, which live until exit); a
# leak allocated by our code is still reported.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan
targets=(io_test media_test preprocessing_test release_test plot_test)
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# -O1 -g1: line tables for the reports, asserts kept (no NDEBUG), faster to compile than -O2 -g.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
  -DAVGZSL_BUILD_TESTS=ON -DAVGZSL_BUILD_BENCHMARKS=OFF > /dev/null
start=$(date +%s)
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
echo "sanitize: build took $(( $(date +%s) - start )) s"

cat > "$build/lsan.supp" <<'SUPP'
# LibTorch is not instrumented; what it allocates for its lifetime and never frees is not ours.
leak:libtorch_cpu.so
leak:libtorch.so
leak:libc10.so
# fontconfig (cairo's font lookup) keeps its pattern cache for the process's lifetime.
leak:libfontconfig.so
SUPP
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$PWD/$build/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export OMP_WAIT_POLICY=PASSIVE
start=$(date +%s)
failed=()
for t in "${targets[@]}"; do
  echo "== $t"
  if ! "$build/tests/$t" --gtest_brief=1; then
    failed+=("$t")
  fi
done
echo "sanitize: tests took $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitize: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "sanitize: no sanitizer reports"
