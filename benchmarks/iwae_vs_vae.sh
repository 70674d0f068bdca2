#!/usr/bin/env bash
# IWAE against the VAE on Burda et al.'s 1-stochastic-layer network (784-200-200-50 tanh,
# Bernoulli decoder, dynamically binarized MNIST, batch 100, Adam 1e-3 decaying log-linearly to
# 1e-4): the same network, epochs and seed, trained on the k-sample bound (IWAE) or on the ELBO
# (VAE), then the K=5000 importance-sampled test NLL of each. Burda et al. (2015), Table 1, after
# 3,280 epochs: VAE 86.76, IWAE k=5 85.33, IWAE k=50 84.78 nats.
# Usage: VAEKIT_DATA_DIR=../shared/data EPOCHS=60 K_TRAIN=5 LIMIT=10000 bash benchmarks/iwae_vs_vae.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-runs/bench-iwae-vs-vae}
EPOCHS=${EPOCHS:-60}
K_TRAIN=${K_TRAIN:-5}
LIMIT=${LIMIT:-10000}
PY=${PY:-python -m}
NET=(--data binarized-mnist --hidden 200,200 --activation tanh --latent-dim 50 --batch-size 100 --lr 1e-3 --lr-end 1e-4
     --epochs "$EPOCHS" --eval-every 10 --seed 0 --overwrite --quiet)
for MODEL in vae iwae; do
  start=$(date +%s)
  if [ "$MODEL" = iwae ]; then $PY vaekit train iwae --set k="$K_TRAIN" "${NET[@]}" --out "$OUT/$MODEL"
  else $PY vaekit train vae "${NET[@]}" --out "$OUT/$MODEL"; fi
  mid=$(date +%s)
  $PY vaekit eval "$OUT/$MODEL" --iw-samples 5000 --limit "$LIMIT" --json
  echo "$MODEL epochs=$EPOCHS k_train=$([ $MODEL = iwae ] && echo $K_TRAIN || echo 1) train_seconds=$((mid - start)) eval_seconds=$(( $(date +%s) - mid ))"
done
