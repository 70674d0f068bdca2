"""Open a trained run in the browser: move through its latent space and watch the decoded image.

Serves a local page (http://127.0.0.1:8000 by default) with a slider per latent dimension (the
most active first), a 2-D plane to drag a point over (the code itself when it is 2-D, else two
chosen dimensions) over the test images' codes, "random sample" from the prior (a VQ-VAE: through
its code prior), a walk between two test images, and a class selector for a conditional VAE.
A run on sentences shows the greedy decode of the code as a sentence, and walks between two test
sentences; a language model (lm) has no code and is refused.
The model decodes on this machine; the page needs no internet. Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import socket
import sys

from vaekit.commands._common import (
    add_data_dir_argument,
    add_run_arguments,
    count,
    open_run,
    open_split,
    open_vocab,
)
from vaekit.errors import VaekitError

HELP = "a local web page to explore a run's latent space"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--port", type=count(1, 65535), default=8000, help="the port to serve on")
    p.add_argument(
        "--host", default="127.0.0.1", help="the address to serve on; 127.0.0.1 keeps the page to this machine"
    )


def _check_free(host: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise VaekitError(f"--port must be from 1 to 65535, got {port}")
    try:
        with socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET):
            pass
    except OSError as err:
        reason = err.strerror or err
        raise VaekitError(f"cannot serve on {host}:{port} ({reason}): choose another --port or --host") from None


def run(args) -> int:
    import uvicorn

    from vaekit.web import Explorer, create_app

    _check_free(args.host, args.port)
    model, cfg, _device = open_run(args)
    x, y = open_split(cfg, args, "test")
    text = model.data_kind == "sentences"
    vocab = open_vocab(args.run_dir) if text else None  # a text run: codes decode to sentences
    explorer = Explorer(model, cfg, x, y, title=args.run_dir.resolve().name, vocab=vocab)
    print(f"vaekit explorer for {args.run_dir} on http://{args.host}:{args.port}  (Ctrl-C to stop)", file=sys.stderr)
    uvicorn.run(
        create_app(explorer),
        host=args.host,
        port=args.port,
        log_level="warning",
        limit_concurrency=64,
        timeout_keep_alive=5,
    )
    return 0
