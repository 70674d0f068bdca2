#!/usr/bin/env bash
# Frey Face with a Gaussian likelihood (per-pixel learned scale), the second dataset of the
# original VAE paper (Kingma & Welling 2013: 200 hidden units, small latent spaces).
# Reports the test ELBO and K=1000 NLL, and writes samples.png into the run directory.
# Usage: VAEKIT_DATA_DIR=../shared/data bash benchmarks/frey_face.sh [RUN_DIR]
set -euo pipefail
RUN=${1:-runs/bench-frey}
PY=${PY:-python -m}
start=$(date +%s)
$PY vaekit train vae --data frey --likelihood gaussian --hidden 200 --activation tanh --latent-dim 10 \
    --epochs 1000 --batch-size 100 --lr 1e-3 --eval-every 20 --out "$RUN" --overwrite --quiet
mid=$(date +%s)
$PY vaekit eval "$RUN" --iw-samples 1000 --json
$PY vaekit sample "$RUN" -n 64
end=$(date +%s)
echo "train_seconds=$((mid - start)) eval_seconds=$((end - mid))"
