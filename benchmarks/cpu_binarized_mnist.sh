#!/usr/bin/env bash
# Issue "spine" CPU check: the default VAE for 5 epochs on
# dynamically binarized MNIST, then the K=1000 importance-sampled NLL on the first 1000 test
# images. Target: below 105 nats, in a few minutes on 2 cores. The default network on binarized MNIST
# is 784-300-300-40 ELU at Adam 3e-3 since issue 23 (784-512-256-32 ReLU at 1e-3 before it, as measured).
# Usage: VAEKIT_DATA_DIR=../shared/data bash benchmarks/cpu_binarized_mnist.sh [RUN_DIR]
set -euo pipefail
RUN=${1:-runs/bench-cpu-binarized-mnist}
PY=${PY:-python -m}
start=$(date +%s)
$PY vaekit train vae --data binarized-mnist --epochs 5 --device cpu --out "$RUN" --overwrite --quiet
mid=$(date +%s)
$PY vaekit eval "$RUN" --iw-samples 1000 --limit 1000 --device cpu --json
end=$(date +%s)
echo "train_seconds=$((mid - start)) eval_seconds=$((end - mid)) OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}"
