#!/usr/bin/env bash
# Gets benchmarks/vs_pythae.py ready for the GPU machine, which has no network: run this HERE,
# in the repository root's machine with PyPI, before the GPU session.
#
# 1. .whl/ (git-ignored): exactly the wheels pythae 0.1.2 needs that the GPU image lacks. The image
#    (Python 3.12, torch 2.11 with CUDA) already has numpy, scipy, scikit-learn, tqdm, imageio,
#    pillow, cloudpickle, typing-extensions, and vaekit's own needs (matplotlib, safetensors); it
#    has no pydantic. So: pythae itself, pydantic and its three needs (pydantic-core, pinned
#    exactly by pydantic; annotated-types; typing-inspection), and typing-extensions, which the
#    image has but at a version nobody has read there, while pydantic asks for a recent one (it is
#    pure Python, and a newer one serves torch as well). pythae's `dataclasses` requirement is a
#    Python 3.6 backport and is left out. About 3 MB in all.
# 2. devdata/mnist (git-ignored): the four MNIST files, copied from $VAEKIT_DATA_DIR (default
#    ../shared/data), since ../shared beside the checkout does not travel to the GPU machine.
#
# Then, on the GPU machine, with `.whl` and `devdata` carried:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#     --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit
#   VAEKIT_DATA_DIR=devdata PYTHONUNBUFFERED=1 python3 benchmarks/vs_pythae.py --device cuda --epochs 6
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEST=.whl
mkdir -p "$DEST"
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
COMMON=(-q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 -d "$DEST")

# pure-Python wheels
for req in pythae==0.1.2 pydantic==2.14.3 annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0; do
    "$PY" -m pip download "${COMMON[@]}" "$req"
done
# the one compiled wheel: pydantic-core, the exact version pydantic 2.14.3 pins
"$PY" -m pip download "${COMMON[@]}" --implementation cp "${PLATFORMS[@]}" pydantic-core==2.50.4

# exactly one version of each: two stop the install on the GPU machine
dupes=$(ls "$DEST" | grep -E '^(pythae|pydantic|pydantic_core|annotated_types|typing_inspection|typing_extensions)-' \
        | sed -E 's/-[0-9].*//' | sort | uniq -d)
if [[ -n "$dupes" ]]; then echo "more than one version in $DEST of: $dupes (remove the old ones)" >&2; exit 1; fi

SRC=${VAEKIT_DATA_DIR:-../shared/data}
mkdir -p devdata/mnist
cp -f "$SRC"/mnist/*-ubyte.gz devdata/mnist/
chmod u+w devdata/mnist/*

ls -l "$DEST" devdata/mnist
du -ch "$DEST"/*.whl devdata/mnist | tail -1
