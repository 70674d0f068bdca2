#!/usr/bin/env bash
# The benchmark's own environment for benchmarks/vs_pythae.py: .bench-venv/ with torch 2.13.0,
# pythae 0.1.2 and vaekit (editable). pythae is never a dependency of vaekit: it lives only here,
# and vaekit's own .venv/ (make venv) is not touched.
#
#   bash benchmarks/pythae-env.sh                  # once; again to rebuild (RECREATE=1 starts over)
#   VAEKIT_DATA_DIR=../shared/data OMP_NUM_THREADS=1 \
#     .bench-venv/bin/python benchmarks/vs_pythae.py --device cpu --epochs 6
#
# On the GPU machine (no network there; its python3 already has torch with CUDA, numpy, scipy,
# scikit-learn, tqdm, imageio, cloudpickle): fetch the few missing wheels here with
# benchmarks/fetch-pythae-wheels.sh and copy MNIST into devdata/ (git-ignored), carry `.whl` and
# `devdata`, and run there:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#     --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
#   VAEKIT_DATA_DIR=devdata python3 benchmarks/vs_pythae.py --device cuda --epochs 6
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.bench-venv}
PYTHON=${PYTHON:-python3}
PIP_FLAGS=(-q --disable-pip-version-check)

if [[ "${RECREATE:-0}" == 1 ]]; then rm -rf "$VENV"; fi
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"

# torch first and exactly: on this project's machines that is the CPU build on disk; a looser
# pin (pythae asks only for torch>=1.10.1) would pull a multi-GB CUDA build.
"$PY" -m pip install "${PIP_FLAGS[@]}" "torch==2.13.0"

# pythae 0.1.2 asks for cloudpickle>=2.1, imageio, numpy>=1.19, pydantic>=2.0, scikit-learn,
# scipy>=1.7.1, tqdm, typing-extensions and the `dataclasses` backport (a Python 3.6 shim; the
# standard library has had it since 3.7). It is installed with --no-deps and its real runtime
# needs by hand: that keeps the obsolete backport out and lets nothing move torch.
"$PY" -m pip install "${PIP_FLAGS[@]}" --no-deps "pythae==0.1.2"
"$PY" -m pip install "${PIP_FLAGS[@]}" "torch==2.13.0" "cloudpickle>=2.1" imageio "numpy>=1.19" \
    "pydantic>=2.0,<3" scikit-learn "scipy>=1.7.1" tqdm typing-extensions

# vaekit itself, editable, with its own dependencies (already satisfied by the above but matplotlib
# and safetensors).
"$PY" -m pip install "${PIP_FLAGS[@]}" -e .

"$PY" - <<'EOF'
import importlib.metadata as md
import torch, pythae, pydantic, vaekit  # noqa: F401  (fails loudly if any import is broken)
from pythae.pipelines import TrainingPipeline  # noqa: F401  (pulls samplers: imageio, sklearn)
print("bench env ready:", ", ".join(f"{p} {md.version(p)}" for p in
      ("torch", "pythae", "pydantic", "numpy", "vaekit")))
EOF
