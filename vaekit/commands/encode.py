"""Encode inputs with a trained model: each latent's posterior mean and standard deviation, and each input's KL.

Inputs, for a text run: sentences given as arguments and/or --file FILE (one per line), read as
the run's training text was (its recorded tokenizer: lower-casing, punctuation splitting); words
outside the vocabulary are named on stderr and read as <unk>. For an image run: image files, or
folders of them, resized to the run's image size and made grey or RGB as its images were. Without
inputs: --split of the run's own dataset (the test split unless said), its first --limit examples.

Output: a table on stdout, one row per input (--format tsv: input, kl, mean_1 .. mean_D,
std_1 .. std_D; --format json: one JSON object per line), or --out codes.npz, numpy arrays
mean (N, D), std (N, D), kl (N,) and input (N,) strings, read with np.load(path, allow_pickle=False).
An autoencoder gives its code (mean only), a VQ-VAE its code indices (codes, (N, h, w)); a language
model has no code to give. The means are model.encode(x).mean of the same input.

examples:
  vaekit encode RUN "the market fell sharply ." "stocks rose ."
  vaekit encode RUN --file sentences.txt --out codes.npz
  vaekit encode RUN --split test --limit 100 --format json
  vaekit encode RUN my_digits/ --out codes.npz
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from vaekit.commands._common import add_data_dir_argument, add_run_arguments, count, open_run, open_split
from vaekit.errors import VaekitError

HELP = "codes of sentences or images: posterior mean and standard deviation per latent, KL per input"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="text run: sentences; image run: image files or folders")
    p.add_argument("--file", type=Path, default=None, help="text run: a UTF-8 file of sentences, one per line")
    p.add_argument(
        "--split",
        choices=("train", "val", "test"),
        default=None,
        help="without inputs: encode this split of the run's dataset (default: test)",
    )
    p.add_argument("--limit", type=count(1), default=None, help="with --split: its first N examples (default: all)")
    p.add_argument("--format", choices=("tsv", "json"), default="tsv", help="the table on stdout")
    p.add_argument("--out", type=Path, default=None, help="write the codes to this .npz file instead of stdout")
    p.add_argument("--batch-size", type=count(1), default=256, help="inputs encoded at once")


def run(args) -> int:
    from vaekit.generate.codes import check_has_code, encode_inputs

    given = bool(args.inputs) or args.file is not None
    if given and (args.split is not None or args.limit is not None):
        raise VaekitError("give inputs (sentences, --file, images) or --split/--limit, not both")
    if args.out is not None and args.out.suffix.lower() != ".npz":
        raise VaekitError(f"--out {args.out}: the codes are written as numpy arrays, give a .npz file")
    model, cfg, device = open_run(args)
    check_has_code(model)
    x, y, names = _inputs(args, model, cfg) if given else _split(args, model, cfg)
    codes = encode_inputs(model, x.to(device), None if y is None else y.to(device), args.batch_size)
    _say(codes, model)
    if args.out is not None:
        _write_npz(args.out, codes, names)
    else:
        _print_table(codes, names, args.format)
    return 0


def _inputs(args, model, cfg):
    """(x, None, names) of the inputs given on the command line."""
    if model.data_kind == "sentences":
        from vaekit.commands._common import open_vocab
        from vaekit.commands._text import say_unknown
        from vaekit.data.text import read_lines
        from vaekit.generate.text import sentences_to_tensor

        vocab = open_vocab(args.run_dir)
        texts = [*args.inputs, *(read_lines(args.file) if args.file is not None else [])]
        x = sentences_to_tensor(vocab, texts)
        say_unknown(vocab, texts, "--file" if args.file is not None and not args.inputs else "sentences")
        return x, None, texts
    if args.file is not None:
        raise VaekitError("--file is for text runs: give image files or folders as arguments")
    from vaekit.data.user import read_images

    x, names = read_images(args.inputs, tuple(cfg.image_shape))
    return x, None, names


def _split(args, model, cfg):
    """(x, labels or None, names) of the first --limit examples of --split."""
    split = args.split or "test"
    x, y = open_split(cfg, args, split)
    x, y = x[: args.limit], y[: args.limit]
    if model.data_kind == "sentences":
        from vaekit.commands._common import open_vocab
        from vaekit.generate.text import decode_texts

        return x, None, decode_texts(open_vocab(args.run_dir), x)
    return x, (y if model.num_labels else None), [f"{split}[{i}]" for i in range(x.shape[0])]


def _say(codes, model) -> None:
    what = "sentence(s)" if model.data_kind == "sentences" else "image(s)"
    if codes.indices is not None:
        shape = "x".join(map(str, codes.indices.shape[1:]))
        print(f"encoded {len(codes)} {what}: a {shape} grid of code indices each", file=sys.stderr)
        return
    parts = ["mean" if codes.std is not None else "code"] + (["std"] if codes.std is not None else [])
    parts += [f"KL ({codes.kl_how})"] if codes.kl_how else []
    kind = "" if codes.std is not None else " (a deterministic code: no spread, no KL)"
    print(f"encoded {len(codes)} {what}: {codes.mean.shape[1]} latents, {', '.join(parts)}{kind}", file=sys.stderr)


def _write_npz(path: Path, codes, names: list[str]) -> None:
    import numpy as np

    from vaekit.io import atomic_write_bytes

    arrays = {k: v.numpy() for k, v in codes.arrays().items()}
    arrays["input"] = np.array(names, dtype=str)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items())
    print(f"wrote {path}: {shapes}", file=sys.stderr)


def _print_table(codes, names: list[str], fmt: str) -> None:
    arrays = {k: v.tolist() for k, v in codes.arrays().items()}
    if fmt == "json":
        for i, name in enumerate(names):
            print(json.dumps({"input": name, **{k: v[i] for k, v in arrays.items()}}, ensure_ascii=False))
        return
    if codes.indices is not None:
        head = [f"code_{j + 1}" for j in range(codes.indices[0].numel())]
        rows = [[str(c) for c in row] for row in codes.indices.flatten(1).tolist()]
    else:
        d = codes.mean.shape[1]
        head = ["kl"] if "kl" in arrays else []
        code = "mean" if "std" in arrays else "code"
        head += [f"{code}_{j + 1}" for j in range(d)] + ([f"std_{j + 1}" for j in range(d)] if "std" in arrays else [])
        columns = [[[v] for v in arrays["kl"]]] if "kl" in arrays else []
        columns += [arrays[code]] + ([arrays["std"]] if "std" in arrays else [])
        rows = [[f"{v:.6g}" for part in parts for v in part] for parts in zip(*columns)]
    print("\t".join(["input", *head]))
    for name, row in zip(names, rows):
        print("\t".join([name.replace("\t", " "), *row]))
