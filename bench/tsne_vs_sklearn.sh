#!/bin/bash
# Our t-SNE against scikit-learn's default TSNE (Barnes-Hut, angle 0.5, PCA init, learning rate
# "auto", 1000 iterations) on the same points, in the same run: 10 Gaussian clusters in 64
# dimensions (centres ~ N(0, 4^2), unit spread), 2,000 and 10,000 points. Builds nothing: needs
# build/bench/avgzsl_tsne_bench (cmake --build build --target avgzsl_tsne_bench) and
# /usr/bin/python3 with scikit-learn.
#   bench/tsne_vs_sklearn.sh [BUILD_DIR]        SIZES="2000 10000" and THREADS=$(nproc) by default
# Quality of both embeddings is measured by the same code (avgzsl_tsne_bench quality, checked
# against sklearn's in tests/tsne_test.cpp): trustworthiness (k = 5) over all points and, up to
# 5,000 points, the exact KL(P || Q) with the exact P; above, the Barnes-Hut estimates each side
# reports (sklearn's kl_divergence_, ours at the final embedding) of the sparse P's KL.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bench=$build/bench/avgzsl_tsne_bench
python=/usr/bin/python3
threads=${THREADS:-$(nproc)}  # sklearn's Barnes-Hut uses every core through OpenMP; ours the same number
[ -x "$bench" ] || { echo "error: $bench is missing; build it with: cmake --build $build --target avgzsl_tsne_bench" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%-7s %-8s %9s %9s %-10s %9s %9s %8s %8s\n' points threads "ours s" "sklearn s" "KL kind" "KL ours" "KL sk" "T ours" "T sk"
for n in ${SIZES:-2000 10000}; do
  "$python" -c "
import numpy as np
r = np.random.RandomState(0)
centres = r.randn(10, 64) * 4
x = centres[np.arange($n) % 10] + r.randn($n, 64)
x.astype('<f8').tofile('$work/x$n.f64')"
  read -r _ ours_s _ _ _ ours_bh_kl _ _ < <("$bench" run "$work/x$n.f64" "$n" 64 "$work/ours$n.f64" --threads "$threads")
  mkdir -p "$work/sk$n"
  OMP_NUM_THREADS=$threads "$python" "$root/tests/fixtures/sklearn_tsne.py" "$work/x$n.f64" "$n" 64 "$work/sk$n" \
    --method barnes_hut --angle 0.5 --trustworthiness-k 0
  sk_s=$(awk '$1 == "seconds" {print $2}' "$work/sk$n/results.txt")
  sk_bh_kl=$(awk '$1 == "kl_divergence" {print $2}' "$work/sk$n/results.txt")
  exact=(); kind="BH est."
  if [ "$n" -le 5000 ]; then exact=(--exact-kl); kind="exact"; fi
  ours_q=$("$bench" quality "$work/x$n.f64" "$n" 64 "$work/ours$n.f64" "${exact[@]}")
  sk_q=$("$bench" quality "$work/x$n.f64" "$n" 64 "$work/sk$n/sklearn_embedding.f64" "${exact[@]}")
  value() { awk -v k="$1" '$1 == k {print $2}' <<<"$2"; }
  if [ "$kind" = exact ]; then ours_kl=$(value exact_kl "$ours_q"); sk_kl=$(value exact_kl "$sk_q")
  else ours_kl=$ours_bh_kl; sk_kl=$sk_bh_kl; fi
  printf '%-7s %-8s %9.2f %9.2f %-10s %9.4f %9.4f %8.4f %8.4f\n' "$n" "$threads" "$ours_s" "$sk_s" "$kind" "$ours_kl" \
    "$sk_kl" "$(value trustworthiness "$ours_q")" "$(value trustworthiness "$sk_q")"
done
