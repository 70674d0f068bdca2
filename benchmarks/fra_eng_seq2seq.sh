#!/usr/bin/env bash
# The articles' example, measured (BENCHMARKS.md, "Translation: fra-eng"): the default
# `vaekit train seq2seq --data fra-eng` (15 minutes of one core: GRU 256, Bahdanau's additive
# attention since issue 24's third session; Luong's dot before) or the same without attention,
# then its evaluation on the 2,000 held-out English sentences and the article's sentence. Flags after OUT_DIR go to `vaekit train` (the levers tried in BENCHMARKS.md).
#
#   benchmarks/fra_eng_seq2seq.sh additive|dot|none OUT_DIR [TRAIN FLAGS ...]
#
# Run it through /work/tools/bench (a core of its own) when its wall-clock is reported.
set -euo pipefail
attention=$1 out=$2
shift 2
py=${PYTHON:-python}
export OMP_NUM_THREADS=1
uptime
start=$(date +%s)
"$py" -m vaekit --threads 1 train seq2seq --data fra-eng --attention "$attention" --out "$out" --quiet "$@"
echo "training wall-clock $(($(date +%s) - start)) s"
uptime
"$py" -m vaekit --threads 1 eval "$out" --beam 5
"$py" -m vaekit --threads 1 eval "$out" --beam 1
"$py" -m vaekit --threads 1 translate "$out" "They are watching."
"$py" -m vaekit --threads 1 translate "$out" "They are watching." --beam 1
echo "total wall-clock $(($(date +%s) - start)) s"
uptime
