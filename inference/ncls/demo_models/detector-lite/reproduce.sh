#!/usr/bin/env bash
# How the shipped demo detector is made: phantom training data in parallel, then training.
# Demo model, synthetic data only, not for clinical use. Usage (repository root):
#   OUT=DIR PYTHON=python3 DEVICE=cuda JOBS=14 CASES_PER_JOB=10 MINUTES=5 \
#     bash inference/ncls/demo_models/detector-lite/reproduce.sh
# then, on separate data, `python -m inference.ncls calibrate-detector` (see README.md).
set -euo pipefail
OUT=${OUT:?set OUT to the folder to write}
PYTHON=${PYTHON:-python}
DEVICE=${DEVICE:-cpu}
JOBS=${JOBS:-2}
CASES_PER_JOB=${CASES_PER_JOB:-20}
MINUTES=${MINUTES:-28}
BATCH=${BATCH:-16}
WORKERS=${WORKERS:-0}
DATA=${DATA:-/tmp/ncls-det/train}
export PYTHONUNBUFFERED=1

rm -rf "$DATA" && mkdir -p "$DATA/images" "$DATA/labelTxt"
t0=$(date +%s)
pids=()
for k in $(seq 0 $((JOBS - 1))); do
    "$PYTHON" -m inference.phantom generate --cases "$CASES_PER_JOB" --out "$DATA/part$k" \
        --seed $((3000 + 100 * k)) --frames-min 80 --frames-max 160 --dota-every 2 --quiet &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for k in $(seq 0 $((JOBS - 1))); do
    ln -s "$DATA/part$k/dota/images/"* "$DATA/images/"
    ln -s "$DATA/part$k/dota/labelTxt/"* "$DATA/labelTxt/"
done
echo "data: $(ls "$DATA/images" | wc -l) images from $((JOBS * CASES_PER_JOB)) cases in $(( $(date +%s) - t0 )) s"
"$PYTHON" -m inference.ncls train-detector --data "$DATA" --out "$OUT" --profile lite --epochs 200 \
    --batch-size "$BATCH" --seed 3000 --device "$DEVICE" --workers "$WORKERS" --max-minutes "$MINUTES"
echo "total $(( $(date +%s) - t0 )) s"
