"""The command line end to end on the embedded digits, as a user would type it."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import TINY
from vaekit.cli import COMMANDS, build_parser, main
from vaekit.commands.train import SECTIONS, _resumed_config, clock_note, config_from_args
from vaekit.config import ModelConfig, ModelOptions, RunConfig
from vaekit.errors import VaekitError
from vaekit.models import MODELS
from vaekit.options import flag_name, flagged, render

EVAL_KEYS = {"elbo", "nll", "recon", "kl", "bits_per_dim", "active_units", "k", "n"}


def _options(name: str) -> list[argparse.Action]:
    """The optional arguments of a subcommand's parser (no --help)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [
        a
        for a in sub.choices[name]._actions
        if a.option_strings
        and not isinstance(a, (argparse._HelpAction, argparse._StoreTrueAction, argparse._StoreFalseAction))
    ]


def test_help_lists_every_command_and_the_defaults_it_will_use(capsys):
    with pytest.raises(SystemExit) as top:
        main(["--help"])
    assert top.value.code == 0
    listing = capsys.readouterr().out
    for name in COMMANDS:
        assert name in listing
        with pytest.raises(SystemExit) as sub:
            main([name, "--help"])
        assert sub.value.code == 0
        page = " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare on one line
        for action in _options(name):
            assert action.option_strings[-1] in page
            if action.default not in (None, [], argparse.SUPPRESS):  # SUPPRESS: --threads after the command
                assert f"(default: {action.default})" in page, (name, action.option_strings)


@pytest.mark.parametrize(
    "flag, section, field",
    [
        ("--data", "data", "name"),
        ("--arch", "model", "arch"),
        ("--hidden", "model", "hidden"),
        ("--channels", "model", "channels"),
        ("--activation", "model", "activation"),
        ("--latent-dim", "model", "latent_dim"),
        ("--gaussian-variance", "model", "gaussian_variance"),
        ("--likelihood", "model", "likelihood"),
        ("--epochs", "train", "epochs"),
        ("--batch-size", "train", "batch_size"),
        ("--lr", "train", "lr"),
        ("--seed", "train", "seed"),
        ("--log-every", "train", "log_every"),
        ("--eval-every", "train", "eval_every"),
        ("--precision", "train", "precision"),
    ],
)
def test_train_help_states_the_defaults_the_config_uses(flag, section, field):
    """`vaekit train --help` says "(default: X)" where X is what an omitted flag gives: the config's default."""
    action = next(a for a in _options("train") if flag in a.option_strings)
    stated = re.search(r"\(default: ([^);]*)[);]", action.help).group(1)  # '; cvae 4' follows: per-model defaults
    value = getattr(getattr(RunConfig(), section), field)
    assert stated == (
        ",".join(map(str, value))
        if isinstance(value, tuple)
        else f"{value:g}"
        if isinstance(value, float)
        else str(value)
    )


def test_a_flag_is_only_its_full_name(capsys):
    """No prefix matching on any parser: `--eval` is never read as `--eval-every` (issue 22)."""
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert not parser.allow_abbrev and not any(sub.allow_abbrev for sub in subs.values())
    for argv, flag in (
        (["train", "vae", "--eval", "2"], "--eval"),
        (["train", "vae", "--epoch", "1"], "--epoch"),
        (["kl", "--p", "uniform", "--thread", "1"], "--thread"),
        (["kl", "--p", "uniform", "--q", "uniform", "--bas", "2"], "--bas"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("vaekit: error: unrecognized arguments: " + flag) and err.count("\n") == 1, err


SETTINGS = [(cls, f, flag) for cls in (*SECTIONS.values(), ModelOptions) for f, flag in flagged(cls)]


@pytest.mark.parametrize("cls, field, flag", SETTINGS, ids=[f"{c.__name__}.{f.name}" for c, f, _ in SETTINGS])
def test_every_option_field_is_a_train_flag_and_resume_follows_its_metadata(cls, field, flag, tmp_path):
    """Each option written in vaekit/config.py is a flag of `vaekit train` with that field as its
    destination, its help shows a default, and `--resume` refuses it unless its metadata allows it."""
    name = flag_name(field, flag)
    action = next(a for a in _options("train") + _switches("train") if name in a.option_strings)
    assert action.dest == field.name and action.default is None
    assert flag.action or "(default" in action.help  # a switch is off unless given
    switch = flag.action and flag.type is None
    value = [] if switch else [render(field.default) if field.default is not None else _example(action)]
    args = build_parser().parse_args(["train", "vae", "--out", str(tmp_path / "run"), "--resume", name, *value])
    if flag.resume:
        assert getattr(args, field.name) is not None  # reaches the run's config (tests/test_bad_input.py resumes)
        return
    with pytest.raises(VaekitError, match=f"drop {name} .*only --data-dir, --epochs, --time, --device, --compile"):
        _resumed_config(args)


def _switches(name: str) -> list[argparse.Action]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [
        a for a in sub.choices[name]._actions if isinstance(a, (argparse._StoreTrueAction, argparse._StoreFalseAction))
    ]


def _example(action: argparse.Action) -> str:
    """A value the flag accepts (for an option whose default is None)."""
    if action.choices:
        return str(list(action.choices)[-1])
    examples = {
        "duration": "90s",
        "int_list": "8,8",
        "absolute_path": ".",
        "name list": "tensorboard",
        "batch_schedule": "0.5:8",
    }
    if getattr(action.type, "__name__", "") in examples:
        return examples[action.type.__name__]
    for value in ("1", "0.5"):  # 0.5 where 1 is outside the range, e.g. --ema's (0, 1)
        try:
            action.type(value)
            return value
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            pass
    return "1"


@pytest.mark.parametrize("name", list(MODELS))
def test_train_with_no_flags_starts_from_the_models_own_defaults(name):
    """A registry entry's config_defaults (the cvae's smaller code) are what `vaekit train NAME` uses, and
    `--help` says so; every other field keeps ModelConfig's default, and a flag still wins."""
    spec = MODELS[name]
    model = config_from_args(build_parser().parse_args(["train", name])).model
    for field in dataclasses.fields(ModelConfig):
        if field.name not in ("name", "options"):
            assert getattr(model, field.name) == spec.config_defaults.get(field.name, field.default), field.name
    latent = next(a for a in _options("train") if "--latent-dim" in a.option_strings)
    for key, value in spec.config_defaults.items():
        flag = "--" + key.replace("_", "-")
        helps = " ".join(a.help for a in _options("train") if flag in a.option_strings)
        assert f"{name} {value}" in helps, (name, key)
    given = config_from_args(build_parser().parse_args(["train", name, "--latent-dim", "3"])).model
    assert given.latent_dim == 3 and latent.default is None


def _config(*argv):
    return config_from_args(build_parser().parse_args(["train", *argv]))


def test_a_dataset_default_applies_to_its_model_and_mlp_only_and_a_flag_still_wins():
    """`train vae --data binarized-mnist` starts from Burda et al.'s network at Adam 3e-3 (the vae entry's
    data_defaults, measured in BENCHMARKS.md); other models, other data and conv networks keep theirs, and
    `--help` names the dataset."""
    cfg = _config("vae", "--data", "binarized-mnist")
    assert (cfg.model.hidden, cfg.model.activation, cfg.model.latent_dim, cfg.train.lr) == ((300, 300), "elu", 40, 3e-3)
    for argv in (("vae", "--data", "mnist"), ("iwae", "--data", "binarized-mnist")):
        cfg = _config(*argv)
        assert (cfg.model.hidden, cfg.model.activation, cfg.model.latent_dim, cfg.train.lr) == (
            (512, 256),
            "relu",
            32,
            1e-3,
        )
    conv = _config("vae", "--data", "binarized-mnist", "--arch", "conv")
    assert (conv.model.latent_dim, conv.train.lr) == (32, 1e-3)
    given = _config("vae", "--data", "binarized-mnist", "--lr", "1e-3", "--hidden", "100")
    assert (given.model.hidden, given.model.activation, given.train.lr) == ((100,), "elu", 1e-3)
    helps = {flag: next(a.help for a in _options("train") if flag in a.option_strings) for flag in ("--hidden", "--lr")}
    assert "vae on binarized-mnist 300,300" in " ".join(helps["--hidden"].split())
    assert "vae on binarized-mnist 0.003" in " ".join(helps["--lr"].split())


def test_ptb_starts_from_its_two_hour_recipe_for_the_gru_only_and_a_flag_still_wins():
    """`train vae --data ptb` (and its baseline `train lm`) start from the recipe measured best per
    CPU-hour (registry PTB_DECODER, BENCHMARKS.md): GRU 512, tied 512-dim word vectors, dropout 0.5,
    batch 128, a 2-hour clock; --epochs alone turns the clock off, given flags win; a --time under an
    hour, an LSTM or a text file keeps text's defaults."""
    vae = _config("vae", "--data", "ptb")
    m, t = vae.model, vae.train
    recipe = ("gru", (512,), 256, 0.5, 0.5, 0.0)
    assert (m.arch, m.hidden, m.encoder_hidden, m.dropout, m.embedding_dropout, m.word_dropout) == recipe
    assert (m.embedding_dim, m.tie_embeddings, m.softmax) == (512, True, "full")
    untied = _config("vae", "--data", "ptb", "--no-tie-embeddings").model  # the output layer goes back too
    assert (untied.tie_embeddings, untied.softmax, untied.embedding_dim) == (False, "adaptive", 512)
    assert _config("vae", "--data", "ptb", "--no-tie-embeddings", "--softmax", "full").model.softmax == "full"
    assert (t.batch_size, t.lr, t.lr_end, t.grad_clip, t.time_budget) == (128, 2e-3, 1e-4, 5.0, 7200.0)
    assert (m.options["free_bits"], m.options["warmup_epochs"]) == (0.2, 2.0)
    lm = _config("lm", "--data", "ptb")
    assert (lm.model.hidden, lm.model.dropout, lm.train.batch_size, lm.train.time_budget) == ((512,), 0.5, 128, 7200.0)
    assert lm.model.encoder_hidden is None
    short = _config("vae", "--data", "ptb", "--epochs", "3", "--hidden", "256", "--batch-size", "32")
    given = (3, None, (256,), 32)
    assert (short.train.epochs, short.train.time_budget, short.model.hidden, short.train.batch_size) == given
    clock = _config("vae", "--data", "ptb", "--time", "90m")
    assert (clock.train.time_budget, clock.model.hidden) == (5400.0, (512,)) and clock.train.epochs > 1000
    brief = _config("vae", "--data", "ptb", "--time", "10m")  # the recipe is for an hour or more
    assert (brief.train.time_budget, brief.model.hidden, brief.train.batch_size) == (600.0, (256,), 32)
    assert (brief.model.tie_embeddings, brief.model.softmax) == (False, "adaptive")
    for argv in (("vae", "--data", "ptb", "--arch", "lstm"), ("iwae", "--data", "ptb")):
        other = _config(*argv)
        assert (other.model.hidden, other.train.batch_size, other.train.time_budget) == ((256,), 32, None)
    argv = ["train", "vae", "--data", "ptb"]
    assert "default clock" in clock_note(vae, build_parser().parse_args(argv))
    assert clock_note(clock, build_parser().parse_args([*argv, "--time", "90m"])) == " for 90m"
    assert clock_note(short, build_parser().parse_args([*argv, "--epochs", "3"])) == ""
    helps = {f: next(a.help for a in _options("train") if f in a.option_strings) for f in ("--hidden", "--time")}
    assert "vae on ptb 512" in " ".join(helps["--hidden"].split())
    assert "lm on ptb 120m" in " ".join(helps["--time"].split())


def test_python_dash_m_trains_and_evaluates(tmp_path):
    """The real entry point in a fresh process: train, then eval --json prints one JSON object."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "vaekit", "--threads", "1"]
    subprocess.run([*cmd, "train", "vae", "--epochs", "2", "--out", str(run), *TINY], check=True, capture_output=True)
    for name in (
        "config.json",
        "model.safetensors",
        "last.safetensors",
        "metrics.json",
        "training-curves.png",
        "samples.png",
        "reconstructions.png",
    ):
        assert (run / name).is_file(), name
    done = subprocess.run(
        [*cmd, "eval", str(run), "--iw-samples", "20", "--json"], check=True, capture_output=True, text=True
    )
    result = json.loads(done.stdout)
    assert EVAL_KEYS <= set(result)
    assert result["k"] == 20 and result["n"] == 200
    assert result["nll"] <= -result["elbo"] + 1.0  # the K=20 bound is tighter than the ELBO, up to noise


def test_pictures_and_arrays(digits_run, tmp_path, capsys):
    assert (
        main(
            [
                "sample",
                str(digits_run),
                "-n",
                "10",
                "--out",
                str(tmp_path / "s.png"),
                "--save-array",
                str(tmp_path / "s.npy"),
            ]
        )
        == 0
    )
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (10, 1, 8, 8) and samples.dtype == np.float32
    assert 0.0 <= samples.min() and samples.max() <= 1.0 and samples.std() > 0.01
    assert main(["reconstruct", str(digits_run), "-n", "8", "--out", str(tmp_path / "r.png")]) == 0
    assert main(["interpolate", str(digits_run), "--steps", "5", "--out", str(tmp_path / "i.png")]) == 0
    for name in ("s.png", "r.png", "i.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        main(
            [
                "sample",
                str(digits_run),
                "-n",
                "6",
                "--prior",
                "gmm:3",
                "--out",
                str(tmp_path / "g.png"),
                "--save-array",
                str(tmp_path / "g.npy"),
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "g.npy").shape == (6, 1, 8, 8)
    assert main(["sample", str(digits_run), "--prior", "gmm:x"]) == 2
    for command, flag in (("sample", "--no-unk"), ("reconstruct", "--unk"), ("interpolate", "--no-repeat=0")):
        assert main([command, str(digits_run), flag]) == 2  # a text decoding flag on images: refused, not ignored
    assert main(["latents", str(digits_run), "--rows", "3"]) == 0
    assert (digits_run / "latent-scatter.png").is_file() and (digits_run / "traversals.png").is_file()


def test_traversal_rows_move_only_their_latent():
    import torch

    from vaekit.generate.images import traversal_codes

    base = torch.randn(1, 4)
    codes = traversal_codes(base, [2, 0], steps=5, span=3.0)  # (10, 4)
    assert codes.shape == (10, 4)
    torch.testing.assert_close(codes[:5, 2], torch.linspace(-3, 3, 5))
    torch.testing.assert_close(codes[5:, 0], torch.linspace(-3, 3, 5))
    untouched = torch.ones(10, 4, dtype=torch.bool)
    untouched[:5, 2] = untouched[5:, 0] = False
    assert torch.equal(codes[untouched], base.expand(10, 4)[untouched])


def test_existing_run_is_never_overwritten(digits_run, capsys):
    before = {p.name: p.read_bytes() for p in digits_run.iterdir() if p.is_file()}
    assert main(["train", "vae", "--epochs", "1", "--out", str(digits_run), *TINY]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in digits_run.iterdir() if p.is_file()} == before


def test_overwrite_replaces_a_run(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "vae", "--epochs", "1", "--out", str(run), *TINY]) == 0
    assert main(["train", "vae", "--epochs", "2", "--out", str(run), "--overwrite", *TINY]) == 0
    assert len(json.loads((run / "metrics.json").read_text())["epochs"]) == 2


def test_default_out_numbers_new_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "vae", "--epochs", "1", *TINY]) == 0
    assert main(["train", "vae", "--epochs", "1", *TINY]) == 0
    assert (tmp_path / "runs" / "vae-digits").is_dir() and (tmp_path / "runs" / "vae-digits-2").is_dir()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "vae", "--data", "no-such-data"], ["unknown dataset", "digits"]),
        (["train", "vae", "--set", "k=5"], ["do not apply", "beta"]),
        (["train", "vae", "--set", "beta"], ["KEY=VALUE"]),
        (["train", "vae", "--epochs", "0"], ["--epochs", "at least 1"]),
        (["train", "vae", "--activation", "sigmoidish"], ["unknown activation", "relu"]),
        (["train", "vae", "--device", "cuda:0"], ["no CUDA device"]),
        (["eval", "/no/such/run"], ["not a vaekit run"]),
    ],
)
def test_bad_input_is_one_clear_line(argv, words, capsys, tmp_path):
    if argv[0] == "train":
        argv = [*argv, "--out", str(tmp_path / "run"), "--quiet"]
    if "cuda:0" in argv:
        pytest.importorskip("torch")
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaekit: error: ") and err.count("\n") == 1
    for word in words:
        assert word in err


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--temperature", "0"], ["--temperature", "positive"]),
        (["--temperature", "0.5", "--prior", "gmm:2"], ["--temperature", "own prior"]),
    ],
)
def test_sample_temperature_errors(digits_run, flags, words, capsys, tmp_path):
    assert main(["sample", str(digits_run), "--out", str(tmp_path / "s.png"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(w in err for w in words)
    assert not (tmp_path / "s.png").exists()


def test_resume_refuses_changed_settings(digits_run, capsys):
    assert main(["train", "vae", "--out", str(digits_run), "--resume", "--lr", "0.1", "--quiet"]) == 2
    assert "--lr" in capsys.readouterr().err


def test_train_help_gives_each_models_own_kl_weight():
    """--beta's default depends on the model (the beta-VAE's is 4): the help says so per model."""
    action = next(a for a in _options("train") if "--beta" in a.option_strings)
    assert "vae 1," in action.help and "beta-vae 4" in action.help
