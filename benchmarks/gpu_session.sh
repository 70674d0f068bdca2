#!/usr/bin/env bash
# Everything that needs a GPU, in stages that each fit one 10-minute call of the device tool.
# A session lent a GPU has 30 minutes of device time: run the stages in this order and stop
# where the time runs out; every stage writes its log to $OUT (or ./gpu-logs) as it goes.
#
# On this machine, once:   bash benchmarks/gpu_session.sh prepare      (copies data and wheels)
# Then, one device call each, carrying devdata and .whl:
#   bash benchmarks/gpu_session.sh check      ~2 min  GPU tests (graph == eager, every model captures), speed table, NLL precisions
#   bash benchmarks/gpu_session.sh pythae     ~3 min  pythae 0.1.2 side by side (needs .whl)
#   bash benchmarks/gpu_session.sh burda      ~6 min  Burda VAE, 1000 epochs, time to 87.73 nats (target <= 232 s), K=5000 eval
#   bash benchmarks/gpu_session.sh gmm        ~1 min  EM on 60,000 x 50 on the GPU
#   bash benchmarks/gpu_session.sh iwae       ~8 min  IWAE k=50 and the VAE on Burda's network, 400 epochs each (issue 4's 84.78 row)
#   bash benchmarks/gpu_session.sh vqvae      ~8 min  VQ-VAE on MNIST + Fashion, 15 epochs, code prior width 128 x 10 epochs
#   bash benchmarks/gpu_session.sh sprites    ~9 min  VAE and beta-VAE (beta 1, 4, 8) on sprites, MIG
#   bash benchmarks/gpu_session.sh long       ~10 min per call: Burda's 3,280-epoch schedule, resumed call after call
# Record what comes back in BENCHMARKS.md with the machine and date.
set -uo pipefail
STAGE=${1:?"stage: prepare | check | pythae | burda | gmm | iwae | vqvae | sprites | long"}
LOGS=${OUT:-gpu-logs}
mkdir -p "$LOGS"
export VAEKIT_DATA_DIR=${VAEKIT_DATA_DIR:-$PWD/devdata} PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
PY=${PY:-python3}

wheels() {  # pythae and what the GPU image lacks, installed beside its torch
    [ -d .whl ] && $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site:$PYTHONPATH
}

case "$STAGE" in
prepare)
    mkdir -p devdata && cp -r ../shared/data/mnist devdata/
    [ -d .whl ] || bash benchmarks/fetch-pythae-wheels.sh
    du -sh devdata .whl ;;
check)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$LOGS/check.log"
    $PY -c "import torch; print('torch', torch.__version__)" | tee -a "$LOGS/check.log"
    $PY -m pytest -q -m gpu tests 2>&1 | tail -25 | tee -a "$LOGS/check.log"
    $PY benchmarks/speed.py --device cuda --epochs 6 --family 2>&1 | tee -a "$LOGS/check.log" ;;
pythae)
    wheels
    $PY benchmarks/vs_pythae.py --device cuda 2>&1 | tee "$LOGS/pythae.log" ;;
burda)
    EPOCHS=${EPOCHS:-1000} PY="$PY -m" bash benchmarks/burda_vae.sh runs/gpu-burda 2>&1 | tee "$LOGS/burda.log"
    $PY -m vaekit eval runs/gpu-burda --iw-samples 5000 --precision float64 --json 2>&1 | tail -1 | tee -a "$LOGS/burda.log"
    cp runs/gpu-burda/metrics.json "$LOGS/burda-metrics.json"; cp runs/gpu-burda/samples.png "$LOGS/burda-samples.png" ;;
gmm)
    $PY benchmarks/bench_gmm.py 2>&1 | tee "$LOGS/gmm.log" ;;
iwae)
    # IWAE k=50 and the VAE on the same network, epochs and seed (issue 4's 84.78 / 86.76 row)
    EPOCHS=${EPOCHS:-400} K_TRAIN=50 PY="$PY -m" bash benchmarks/iwae_vs_vae.sh runs/gpu-iwae-vs-vae 2>&1 | tee "$LOGS/iwae.log" ;;
vqvae)
    $PY benchmarks/bench_vqvae.py --part vqvae --datasets "$(ls devdata | grep -x -e mnist -e fashion-mnist | paste -sd,)" --epochs 15 --prior-epochs 10 --prior-dim 128 --prior-layers 4 \
        --prior-limit 59000 --runs runs/gpu-vqvae 2>&1 | tee "$LOGS/vqvae.log"
    $PY benchmarks/sample_quality.py runs/gpu-vqvae/vqvae-mnist --temperatures 1,0.8 2>&1 | tee -a "$LOGS/vqvae.log"
    cp benchmarks/figures/vqvae-*-samples.png "$LOGS/" 2>/dev/null ;;
sprites)
    $PY benchmarks/bench_vqvae.py --part sprites --sprites-epochs "${EPOCHS:-60}" --betas 1,4,8 --runs runs/gpu-sprites 2>&1 | tee "$LOGS/sprites.log" ;;
long)
    # Burda et al.'s 3,280 epochs do not fit one 10-minute call: each call trains until its
    # time is nearly up (--resume replays exactly), the last one evaluates. Carry runs/ between calls.
    RUN=runs/gpu-burda-3280
    flag=$([ -f $RUN/last.safetensors ] && echo --resume || echo --overwrite)
    start=$(date +%s)
    timeout "${SECONDS_LEFT:-540}" $PY -m vaekit train vae --data binarized-mnist --hidden 200,200 --activation tanh --latent-dim 50 \
        --epochs 3280 --batch-size 100 --lr 1e-3 --lr-end 1e-4 --eval-every 20 --out $RUN $flag --quiet 2>&1 | tee -a "$LOGS/long.log"
    done_epochs=$($PY -c "import json; print(json.load(open('$RUN/metrics.json'))['epochs'][-1]['epoch'])")
    echo "this call: $(( $(date +%s) - start )) s wall-clock, epochs done: $done_epochs of 3280" | tee -a "$LOGS/long.log"
    [ "$done_epochs" = 3280 ] && $PY -m vaekit eval $RUN --iw-samples 5000 --precision tf32 --json | tail -1 | tee -a "$LOGS/long.log" ;;
*)
    echo "unknown stage $STAGE" >&2; exit 2 ;;
esac
