#!/usr/bin/env bash
# Installs every build and test dependency of avgzsl from Debian/Ubuntu packages.
# Safe to re-run: it only calls apt-get when something is missing.
#   scripts/install_dependencies.sh          what building and running avgzsl needs
#   scripts/install_dependencies.sh --tests  also what only the test suite uses (a browser, sklearn)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev            # LibTorch (C++ PyTorch), found with find_package(Torch)
  libopenblas0-pthread    # fast BLAS for LibTorch; the default reference BLAS is ~4x slower
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libcsv-dev              # CSV with quoted fields (class-name files of the reference release)
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev  # FFmpeg decoding
  libre2-dev libicu-dev   # Unicode-aware pre-tokenisation (RE2) and lower-casing (ICU) for the BPE tokenizers
  zlib1g-dev              # OpenAI's gzipped BPE vocabulary
  ffmpeg sox              # command-line tools the tests use to synthesise videos and audio
  python3-torch python3-numpy  # tests only: the real torch.save and numpy write fixtures (never used at run time)
  libcairo2-dev fonts-dejavu-core  # figures: cairo draws PNG and PDF, with DejaVu Sans as the font
  libgtest-dev libgmock-dev libbenchmark-dev
)
if [ "${1:-}" = "--tests" ]; then
  packages+=(
    chromium                # the report page is loaded in a real headless browser
    python3-sklearn         # t-SNE is validated against scikit-learn's on the same inputs
    libpugixml-dev          # figure tests parse the SVG files as XML
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "all dependencies are installed"
  exit 0
fi
echo "installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
