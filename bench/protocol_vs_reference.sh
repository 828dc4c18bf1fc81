#!/bin/bash
# The full protocol of issue 16, avgzsl against the real reference (ClipClap-GZSL's main.py) on the
# same machine in the same run: a UCF-size synthetic release (`avgzsl synth` + `avgzsl export`),
# then
#   reference: python3 main.py --cfg config/clipclap.yaml with the UCF options of its commands.sh
#              (--dataset_name UCF --lr 0.00007 --use_wavcaps_embeddings True --modality both
#              --word_embeddings both --run all), --epochs E, --device cpu: stage 1, stage 2, test;
#   avgzsl:    import-clipclap of the same release + train --epochs E (stage 1, stage 2, test) with
#              the reference's UCF settings (seed 42, lr 7e-5, batch 64, 300 batches per epoch).
# Prints seconds per part, the total (wall, including process start-up), peak RSS, the speed-up
# (reference total / avgzsl total) and the test S / U / HM of both.
#
#   bench/protocol_vs_reference.sh [options]
#     --epochs E              stage-1 epochs of both (default 3; env EPOCHS)
#     --avgzsl-only           skip the reference, e.g. to re-time avgzsl after a change (env AVGZSL_ONLY=1)
#     --ref-total S           with it, the reference total of an earlier run for the speed-up (env REF_TOTAL)
#     --threads N             intra-op threads of both (default all cores; env THREADS)
#     --ref-threads N         the reference's alone (default the same; env REF_THREADS)
#     --videos-scale F        synth's videos per class (default 1 = UCF size; env VIDEOS_SCALE)
#     --batches-per-epoch B   both sides' batches per epoch (default the reference's 300; env BATCHES;
#                             smaller only for trying the script out)
#     --build DIR             where the avgzsl binary is (default ./build; env AVGZSL=path/to/avgzsl wins)
#     --work DIR              keep every file there (default: a temporary folder, removed at the end)
#
# Needs: a built avgzsl; Debian's /usr/bin/python3 with python3-torch, -numpy, -sklearn, -scipy,
# -yaml, -joblib and python3-tqdm -configargparse -pandas -h5py -matplotlib (the reference imports
# them all; `apt-get install` them, the script says which are missing); the reference's git
# repository (default the mirror /work/.mirror/dkurzend+ClipClap-GZSL/repo; env REF_GIT), or a
# checkout of it (env REF_DIR).
#
# How the reference is run, untouched: its files are copied out of git (`git archive`, only main.py,
# get_evaluation.py, config/, src/ and commands.sh) into a scratch folder under the work folder,
# never into this tree, and started from there (config/default.yaml is read relative to the
# working directory). No file of it is edited; everything CPU-specific is a command-line option
# (--device cpu). Three modules it imports are not packaged by Debian 12 and are stood in for, in
# the scratch folder only (_bench_shims/ on PYTHONPATH, and the launcher _bench_launch.py):
#   - einops and opt_einsum: src/clipclap_model.py imports them but never calls them (the stubs
#     raise if anything were called);
#   - torch.utils.tensorboard (needs the tensorboard package): a SummaryWriter whose methods do
#     nothing, registered by the launcher, which then runs main.py as __main__ with the same
#     arguments. The writer only logs scalars; no computation reads anything back from it.
# Threads: Debian's torch 1.13 starts with 1 intra-op thread on this kind of VM
# (torch.get_num_threads() == 1 on 2 cores); OMP_NUM_THREADS=N gives the reference the same N
# threads as avgzsl's --threads N. Its DataLoaders keep their 4 (training) and 8 (test) worker
# processes. Peak RSS is /usr/bin/time's: the largest single process, for the reference the main
# one or a DataLoader worker, not their sum.
# The reference's parts come from its log's wall-clock stamps (1 s resolution); its stage 1
# includes reading the release (and writing its _features_processed cache), which avgzsl does in
# import-clipclap. It exits with a KeyError of its own after printing the test result
# (get_evaluation's log_hparams deletes args['audio_hip_blocks'], which src/args.py never
# defines); that exit is accepted, any other failure is not.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=/usr/bin/python3
epochs=${EPOCHS:-3}
avgzsl_only=${AVGZSL_ONLY:-0}
ref_total=${REF_TOTAL:-}
threads=${THREADS:-$(nproc)}
ref_threads=${REF_THREADS:-}
videos_scale=${VIDEOS_SCALE:-1}
batches=${BATCHES:-}
build=$root/build
work=${WORK:-}
ref_git=${REF_GIT:-/work/.mirror/dkurzend+ClipClap-GZSL/repo}
ref_dir=${REF_DIR:-}
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --avgzsl-only) avgzsl_only=1; shift ;;
    --ref-total) ref_total=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --ref-threads) ref_threads=$2; shift 2 ;;
    --videos-scale) videos_scale=$2; shift 2 ;;
    --batches-per-epoch) batches=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
avgzsl=${AVGZSL:-$build/avgzsl}
[ -x "$avgzsl" ] || { echo "error: $avgzsl is missing; build it with: cmake --build $build" >&2; exit 1; }
[ "$avgzsl_only" = 1 ] || [ "$avgzsl_only" = 0 ] || { echo "error: AVGZSL_ONLY must be 0 or 1" >&2; exit 2; }

if [ "$avgzsl_only" = 0 ]; then
  missing=()
  for m in torch numpy sklearn scipy yaml joblib tqdm configargparse pandas h5py matplotlib; do
    "$python" -c "import $m" 2>/dev/null || missing+=("$m")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    declare -A deb=([torch]=python3-torch [numpy]=python3-numpy [sklearn]=python3-sklearn [scipy]=python3-scipy
                    [yaml]=python3-yaml [joblib]=python3-joblib [tqdm]=python3-tqdm
                    [configargparse]=python3-configargparse [pandas]=python3-pandas [h5py]=python3-h5py
                    [matplotlib]=python3-matplotlib)
    pkgs=(); for m in "${missing[@]}"; do pkgs+=("${deb[$m]}"); done
    echo "error: $python lacks ${missing[*]} (the reference imports them); install: apt-get install ${pkgs[*]}" >&2
    exit 1
  fi
fi

if [ -n "$work" ]; then
  mkdir -p "$work"; work=$(cd "$work" && pwd)
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi
now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }
# "Maximum resident set size (kbytes): N" of /usr/bin/time -v, in MB
peak_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }

# 1. The data: a UCF-geometry synthetic dataset in the reference's release layout (not timed).
rm -rf "$work/native" "$work/release"
"$avgzsl" synth --out "$work/native" --videos-scale "$videos_scale" > "$work/synth.log"
"$avgzsl" export --format clipclap --data "$work/native" --layout UCF --out "$work/release" > "$work/export.log"
release=$work/release
bpe=(); [ -z "$batches" ] || bpe=(--batches-per-epoch "$batches")
echo "data: $(grep -c . "$work/release/class-split/all_class.txt") classes, videos-scale $videos_scale; epochs $epochs;" \
     "threads $threads; batches per epoch ${batches:-300}; work $work" >&2

# 2.-3. The reference.
ref_s1=- ref_s2=- ref_rest=- ref_rss=- ref_S=- ref_U=- ref_HM=-
if [ "$avgzsl_only" = 0 ]; then
  ref=$work/reference
  rm -rf "$ref" "$work/ref_logs"; mkdir -p "$ref/_bench_shims"
  if [ -n "$ref_dir" ]; then
    (cd "$ref_dir" && tar -c main.py get_evaluation.py config src commands.sh) | tar -x -C "$ref"
  else
    # Only the files the run needs: the mirror may lack large blobs elsewhere in the tree.
    git -C "$ref_git" archive HEAD main.py get_evaluation.py config src commands.sh 2>/dev/null | tar -x -C "$ref"
  fi
  [ -f "$ref/main.py" ] && [ -f "$ref/config/clipclap.yaml" ] || { echo "error: no reference main.py from ${ref_dir:-$ref_git}" >&2; exit 1; }
  cat > "$ref/_bench_shims/einops.py" <<'EOF'
# avgzsl bench stand-in: Debian 12 has no python3-einops. src/clipclap_model.py imports einops,
# rearrange and repeat without calling them; a call would raise.
def _not_expected(*args, **kwargs):
    raise RuntimeError("einops stand-in of bench/protocol_vs_reference.sh was called")
rearrange = repeat = _not_expected
EOF
  cat > "$ref/_bench_shims/opt_einsum.py" <<'EOF'
# avgzsl bench stand-in: Debian 12 has no python3-opt-einsum; src/clipclap_model.py imports it unused.
EOF
  cat > "$ref/_bench_launch.py" <<'EOF'
# avgzsl bench launcher: Debian 12 has no tensorboard, which torch.utils.tensorboard needs. The
# reference only writes scalars through SummaryWriter; this one does nothing. Then main.py runs
# unchanged as __main__ with this process's arguments.
import runpy, sys, types

class SummaryWriter:
    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):  # add_scalar, add_hparams, flush, close, ...
        return lambda *args, **kwargs: None

tensorboard = types.ModuleType("torch.utils.tensorboard")
tensorboard.SummaryWriter = SummaryWriter
sys.modules["torch.utils.tensorboard"] = tensorboard
sys.argv[0] = "main.py"
runpy.run_path("main.py", run_name="__main__")
EOF
  ref_bpe=(); [ -z "$batches" ] || ref_bpe=(--n_batches "$batches")
  echo "reference: running main.py (stage 1, stage 2, test) ..." >&2
  t0=$(now)
  (cd "$ref" && LC_ALL=C OMP_NUM_THREADS=${ref_threads:-$threads} PYTHONPATH=$ref/_bench_shims \
     /usr/bin/time -v -o "$work/reference.time" "$python" _bench_launch.py --cfg config/clipclap.yaml \
       --device cpu --root_dir "$release" --log_dir "$work/ref_logs" --dataset_name UCF --epochs "$epochs" \
       --lr 0.00007 --use_wavcaps_embeddings True --modality both --word_embeddings both --run all \
       "${ref_bpe[@]}" > "$work/reference.log" 2>&1) || ref_status=$?
  t1=$(now)
  # The reference ends in a KeyError of its own after printing the test result: get_evaluation's
  # log_hparams deletes args['audio_hip_blocks'], which src/args.py never defines (so on GPU too).
  # That exit, and only that one, counts as finished.
  if [ "${ref_status:-0}" != 0 ] && ! { tail -1 "$work/reference.log" | grep -qx "KeyError: 'audio_hip_blocks'" &&
                                        grep -q 'GZSL performance=' "$work/reference.log"; }; then
    echo "error: the reference failed; the end of $work/reference.log:" >&2; tail -20 "$work/reference.log" >&2; exit 1
  fi
  ref_total=$(seconds "$t0" "$t1")
  ref_rss=$(peak_mb "$work/reference.time")
  result=$(grep -o 'Seen performance=[0-9.]*, Unseen performance=[0-9.]*, GZSL performance=[0-9.]*' "$work/reference.log" | tail -1)
  [ -n "$result" ] || { echo "error: no test result in $work/reference.log" >&2; exit 1; }
  read -r ref_S ref_U ref_HM < <(sed 's/[A-Za-z ]*performance=//g; s/,/ /g' <<<"$result")
  # Log lines start "INFO - 05/14/24 20:33:05 - 0:00:12 - message": the wall clock of each event.
  stamp() { grep -E " - $1" "$work/reference.log" | sed -n "${2}p" | awk '{print $3, $4}' | xargs -I{} date -d {} +%s; }
  s1=$(stamp 'Start experiment' 1); s2=$(stamp 'Start experiment' 2); ev=$(stamp 'Start evaluation' 1)
  ref_s1=$((s2 - s1)); ref_s2=$((ev - s2))
  ref_rest=$(awk -v t="$ref_total" -v s="$((ev - s1))" 'BEGIN {printf "%.1f", t - s}')
fi

# 4. avgzsl: import the same release, then the protocol.
rm -rf "$work/imported" "$work/run"
t0=$(now)
/usr/bin/time -v -o "$work/import.time" "$avgzsl" import-clipclap --root "$release" --dataset UCF --out "$work/imported" \
  > "$work/import.log" 2>&1 || { echo "error: import-clipclap failed:" >&2; cat "$work/import.log" >&2; exit 1; }
t1=$(now)
/usr/bin/time -v -o "$work/train.time" "$avgzsl" train --data "$work/imported" --out "$work/run" --epochs "$epochs" \
  --seed 42 --lr 7e-5 --batch-size 64 "${bpe[@]}" --threads "$threads" > "$work/train.log" 2>&1 || {
  echo "error: avgzsl train failed; the end of $work/train.log:" >&2; tail -20 "$work/train.log" >&2; exit 1; }
t2=$(now)
ours_import=$(seconds "$t0" "$t1"); ours_train=$(seconds "$t1" "$t2"); ours_total=$(seconds "$t0" "$t2")
ours_rss=$(( $(peak_mb "$work/import.time") > $(peak_mb "$work/train.time") ? $(peak_mb "$work/import.time") : $(peak_mb "$work/train.time") ))
read -r ours_S ours_U ours_HM < <("$python" -c "
import json, sys
t = json.load(open(sys.argv[1]))['test']
print(*('%.2f' % t[k] for k in ('S', 'U', 'HM')))" "$work/run/results.json")
# Stage times: the epochs' seconds (training + validation) in validation_metrics.csv; the rest of
# train is start-up, loading the dataset, saving the models and the test.
read -r ours_s1 ours_s2 < <(awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next}
                                     {s[$1] += $c} END {printf "%.1f %.1f\n", s[1], s[2]}' "$work/run/validation_metrics.csv")
ours_rest=$(awk -v t="$ours_train" -v a="$ours_s1" -v b="$ours_s2" 'BEGIN {printf "%.1f", t - a - b}')

# 5. The table: the rows of each column add up to its total.
row() { printf '%-44s %14s %14s\n' "$@"; }
echo
echo "UCF-size synthetic release (videos-scale $videos_scale), $epochs stage-1 epochs, ${batches:-300} batches per epoch, $threads threads${ref_threads:+ (reference $ref_threads)}"
row "seconds" reference avgzsl
row "import the release" "(in stage 1)" "$ours_import"
row "stage 1 ($epochs epochs, each validated)" "$ref_s1" "$ours_s1"
row "stage 2 (best epoch + 1 epochs)" "$ref_s2" "$ours_s2"
row "test, start-up, loading, saving" "$ref_rest" "$ours_rest"
row "total (wall)" "${ref_total:--}" "$ours_total"
row "peak RSS (MB, largest process)" "$ref_rss" "$ours_rss"
row "test S / U" "$ref_S / $ref_U" "$ours_S / $ours_U"
row "test HM" "$ref_HM" "$ours_HM"
if [ -n "$ref_total" ]; then
  awk -v r="$ref_total" -v o="$ours_total" 'BEGIN {printf "speed-up (reference total / avgzsl total): %.1fx\n", r / o}'
fi
