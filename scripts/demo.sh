#!/usr/bin/env bash
# The main job on the embedded default dataset: install, build, generate the synthetic
# benchmark, run the two-stage protocol, print the result table. Leaves runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_dependencies.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAVGZSL_BUILD_TESTS=OFF -DAVGZSL_BUILD_BENCHMARKS=OFF > /dev/null
cmake --build build --target avgzsl_cli -j"$(nproc)"
[ -f data/synthetic-ucf/manifest.json ] || ./build/avgzsl synth --out data/synthetic-ucf
./build/avgzsl train --data data/synthetic-ucf --out runs/demo --force "$@"
# The run's page: result, curves, beta sweep, per-class accuracies, t-SNE (docs/report.md).
./build/avgzsl report --run runs/demo --out runs/demo_report.html
