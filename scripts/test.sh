#!/usr/bin/env bash
# The whole test suite from a clean checkout: install, build everything, run ctest, then the
# sanitizer run of the parser and decoder tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_dependencies.sh --tests
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAVGZSL_BUILD_TESTS=ON -DAVGZSL_BUILD_BENCHMARKS=ON > /dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j"$(nproc)"
../scripts/sanitize.sh  # ASan + UBSan on the io, media, preprocessing and release tests (build-asan; fuzz/README.md)
