#!/usr/bin/env bash
# Installs avgzsl from the build tree into a temporary prefix, builds examples/ against the
# installed CMake package (never the build tree), and runs both examples:
#   - train_and_evaluate on a small synthetic dataset: its re-evaluated row must equal the
#     trained one, number for number;
#   - zero_shot_video on a generated video with the golden tiny CLIP (../shared/data): its
#     ranking must equal what the installed `avgzsl predict` prints.
# Usage: install_examples_test.sh BUILD_DIR SOURCE_DIR SHARED_DATA_DIR
# Exits 77 (CTest: skipped) after the first part when ../shared/data is absent.
set -euo pipefail
build=$1 source=$2 shared=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" > /dev/null
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
cmake -S "$source/examples" -B "$tmp/examples" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/configure.log"
grep -q "^avgzsl_DIR:PATH=$prefix/" "$tmp/examples/CMakeCache.txt" || {
  echo "the examples did not find avgzsl in the install prefix"; grep avgzsl_DIR "$tmp/examples/CMakeCache.txt"; exit 1; }
cmake --build "$tmp/examples" -j2 > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }

# 1. Training and evaluation on a native dataset.
"$prefix/bin/avgzsl" synth --out "$tmp/data" --videos-scale 0.25 > /dev/null
OMP_WAIT_POLICY=PASSIVE "$tmp/examples/train_and_evaluate" "$tmp/data" "$tmp/run" 2 20 | tee "$tmp/train.txt"
trained=$(grep '(trained)' "$tmp/train.txt" | awk '{print $(NF-5), $(NF-4), $(NF-3), $(NF-2)}')
again=$(grep '^re-evaluated' "$tmp/train.txt" | awk '{print $(NF-5), $(NF-4), $(NF-3), $(NF-2)}')
[ -n "$trained" ] && [ "$trained" = "$again" ] || { echo "re-evaluated row '$again' differs from trained '$trained'"; exit 1; }
grep -q '^training-free' "$tmp/train.txt" || { echo "no training-free row"; exit 1; }

# 2. Zero-shot prediction of one video.
golden=$shared/golden/clip
if [ ! -d "$golden/tiny_clip" ]; then
  echo "$golden absent: zero-shot example not run"
  exit 77
fi
mkdir -p "$tmp/clip"
cp "$golden/tiny_clip/config.json" "$golden/tiny_clip/model.safetensors" "$golden/bpe_simple_vocab_16e6.txt.gz" "$tmp/clip/"
ffmpeg -v error -f lavfi -i testsrc=size=96x64:rate=10 -t 1 -pix_fmt yuv420p "$tmp/video.mp4"
classes="playing guitar,dog barking,rain"
"$tmp/examples/zero_shot_video" "$tmp/video.mp4" "$tmp/clip" "$classes" | tee "$tmp/example.txt"
"$prefix/bin/avgzsl" predict "$tmp/video.mp4" --clip "$tmp/clip" --classes "$classes" --top-k 3 --json > "$tmp/cli.json"
# The example's lines "  <class> <score>" against the CLI's JSON, scores to 4 decimals.
want=$(grep -o '"class": *"[^"]*"\|"score": *[-0-9.e]*' "$tmp/cli.json" | sed 's/^"class": *"//; s/"$//; s/^"score": *//' |
  paste - - | awk -F'\t' '{printf "%s %.4f\n", $1, $2}')
got=$(tail -n +2 "$tmp/example.txt" | sed 's/^  //' | awk '{score=$NF; $NF=""; sub(/ +$/, ""); printf "%s %.4f\n", $0, score}')
[ -n "$got" ] && [ "$got" = "$want" ] || { echo "the example ranks"; echo "$got"; echo "the CLI"; echo "$want"; exit 1; }
echo "install + examples: OK"
