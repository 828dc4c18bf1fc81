#!/usr/bin/env bash
# One clean build of the library + CLI (what a user builds), for timing build changes:
#   farm-bench -n 3 --warmup 0 --timeout 1800 --vs "bench/build_time.sh OTHER_TREE" -- bench/build_time.sh .
# OTHER_TREE: e.g. `git worktree add /tmp/before <commit>`. Builds in TREE/build-time (removed first).
set -euo pipefail
tree=${1:-.}
cd "$tree"
rm -rf build-time
cmake -S . -B build-time -G Ninja -DCMAKE_BUILD_TYPE=Release -DAVGZSL_BUILD_TESTS=OFF -DAVGZSL_BUILD_BENCHMARKS=OFF > /dev/null
cmake --build build-time --target avgzsl_cli -j"$(nproc)" > /dev/null
