#!/usr/bin/env bash
# The sentence VAE and its language-model baseline on the Penn Treebank, on a wall-clock budget.
#
#   benchmarks/ptb_sentence_vae.sh vae|lm OUT_DIR DEADLINE_UTC [MAX_EPOCHS]
#
# Trains one epoch at a time (`vaekit train ... --resume`), starting another only while the next
# would likely end before DEADLINE_UTC (e.g. 20:15): the run stops at an epoch boundary, with
# its checkpoints, and is then evaluated with `vaekit eval` (see BENCHMARKS.md). One thread.
# The VAE: GRU 256, word vectors 256 (shared by encoder and decoder), z of 32, KL weight raised
# linearly over 2 epochs, free bits 0.2 nats per latent (a KL floor of 6.4 nats against posterior
# collapse), batch 64, Adam 1e-3, gradient clipping 5. The LM: the same decoder without z.
set -euo pipefail
model=$1 out=$2 deadline=$3 max_epochs=${4:-10}
py=${PYTHON:-/work/main/.venv/bin/python}
export OMP_NUM_THREADS=1
common=(--data ptb --arch gru --hidden 256 --embedding-dim 256 --batch-size 64 --lr 1e-3 --grad-clip 5 --log-every 20)
case $model in
  vae) flags=(--latent-dim 32 --kl-warmup 2 --free-bits 0.2) ;;
  lm) flags=() ;;
  *) echo "usage: $0 vae|lm OUT_DIR DEADLINE_UTC [MAX_EPOCHS]" >&2; exit 2 ;;
esac
end=$(date -u -d "$deadline" +%s)
began=$(date -u +%s)
epoch=1
"$py" -m vaekit --threads 1 train "$model" "${common[@]}" "${flags[@]}" --epochs 1 --out "$out"
while (( epoch < max_epochs )); do
  now=$(date -u +%s)
  per_epoch=$(( (now - began) / epoch ))
  (( now + per_epoch <= end )) || break
  epoch=$(( epoch + 1 ))
  "$py" -m vaekit --threads 1 train "$model" --out "$out" --resume --epochs "$epoch"
done
echo "$model: $epoch epochs in $(( $(date -u +%s) - began )) s wall-clock (until $(date -u +%H:%M:%S) UTC)"
