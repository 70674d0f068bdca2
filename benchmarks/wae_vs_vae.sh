#!/usr/bin/env bash
# WAE-MMD and VAE on MNIST side by side (Tolstikhin et al. 2017's MNIST set-up: d_z = 8,
# lambda = 10, batch 100, Adam 1e-3): same network (784-512-256-8 MLP, ReLU, Bernoulli decoder),
# same epochs; writes each run's test reconstructions and prior samples, and the eval JSON.
# Usage: VAEKIT_DATA_DIR=../shared/data EPOCHS=5 bash benchmarks/wae_vs_vae.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-runs/bench-wae-vs-vae}
EPOCHS=${EPOCHS:-5}
PY=${PY:-python -m}
for MODEL in wae vae; do
  $PY vaekit train "$MODEL" --data mnist --latent-dim 8 --epochs "$EPOCHS" --out "$OUT/$MODEL" --overwrite --quiet
  $PY vaekit eval "$OUT/$MODEL" --iw-samples 100 --limit 2000 --json
  $PY vaekit sample "$OUT/$MODEL" -n 64 --seed 1
  $PY vaekit reconstruct "$OUT/$MODEL" -n 16
done
