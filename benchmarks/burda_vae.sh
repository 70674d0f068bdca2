#!/usr/bin/env bash
# Burda et al. (2015), 1 stochastic layer: 784-200-200-50 tanh encoder, mirrored decoder,
# Bernoulli likelihood, dynamically binarized MNIST, batch 100, Adam 1e-3 decaying
# log-linearly to 1e-4; then the K=5000 importance-sampled test NLL over all 10,000 test
# images. Their VAE: 86.76 nats after 3,280 epochs; target here 88 or better.
# Usage: VAEKIT_DATA_DIR=../shared/data EPOCHS=1000 [TRAIN_FLAGS="--compile"] [PRECISION=tf32] bash benchmarks/burda_vae.sh [RUN_DIR]
set -euo pipefail
RUN=${1:-runs/bench-burda-vae}
EPOCHS=${EPOCHS:-1000}
PY=${PY:-python -m}
start=$(date +%s)
$PY vaekit train vae --data binarized-mnist --hidden 200,200 --activation tanh --latent-dim 50 \
    --epochs "$EPOCHS" --batch-size 100 --lr 1e-3 --lr-end 1e-4 --eval-every 10 --out "$RUN" --overwrite --quiet ${TRAIN_FLAGS:-}
mid=$(date +%s)
$PY vaekit eval "$RUN" --iw-samples 5000 --precision "${PRECISION:-float32}" --json
end=$(date +%s)
echo "epochs=$EPOCHS train_seconds=$((mid - start)) eval_seconds=$((end - mid))"
