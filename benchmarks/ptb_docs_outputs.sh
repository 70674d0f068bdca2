#!/usr/bin/env bash
# The outputs docs/text.md "Results on the Penn Treebank" shows, from one PTB sentence VAE run:
# samples (greedy with the decoding rules, <unk> left out; ancestral at temperature 0.7), a homotopy
# between two written sentences and between test sentences, reconstructions, and the latent plot.
#
#   benchmarks/ptb_docs_outputs.sh RUN_DIR OUT_DIR
#
# Text lands in OUT_DIR/outputs.txt, the plot of the codes in OUT_DIR/ (copy latent-scatter.png to
# docs/figures/ptb-vae-latents.png). One thread; a few minutes on one core.
set -euo pipefail
run=$1 out=$2
py=${PYTHON:-python}
export OMP_NUM_THREADS=1
mkdir -p "$out"
v() { echo "\$ vaekit $*"; "$py" -m vaekit --threads 1 "$@"; echo; }
{
  v sample "$run" --greedy -n 10 --seed 1
  v sample "$run" --temperature 0.7 -n 10 --seed 1
  v interpolate "$run" --from "the company said it expects to report a loss for the third quarter" \
    --to "he is a good man" --steps 7
  v interpolate "$run" --pairs 2 --steps 7
  v reconstruct "$run" -n 8
} > "$out/outputs.txt" 2>&1
"$py" -m vaekit --threads 1 latents "$run" --out "$out"
echo "wrote $out/outputs.txt and the latent plots in $out"
