#!/usr/bin/env bash
# Sample quality of short VAE runs as numbers: FID in the features of vaekit's MNIST / Fashion-MNIST
# classifiers (vaekit.sample_quality), 10,000 prior samples against the 10,000 test images.
#   VAEKIT_DATA_DIR=../shared/data EPOCHS=5 bash benchmarks/fid.sh
# The classifiers are trained once on first use (about two minutes each on a CPU) and cached.
set -euo pipefail
EPOCHS=${EPOCHS:-5}
RUNS=${RUNS:-runs}
VAEKIT="${PYTHON:-python} -m vaekit --threads 1"
for DATA in binarized-mnist fashion-mnist; do
  RUN="$RUNS/fid-vae-$DATA"
  if [ ! -f "$RUN/model.safetensors" ]; then
    /usr/bin/time -f "train $DATA: %e s wall" $VAEKIT train vae --data "$DATA" --epochs "$EPOCHS" --seed 0 --out "$RUN" --overwrite --quiet
  fi
  /usr/bin/time -f "eval $DATA: %e s wall" $VAEKIT eval "$RUN" --iw-samples 100 --limit 1000 --fid-samples 10000
done
