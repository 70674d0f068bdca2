"""The sentence models' output layer and regularisers: adaptive or full softmax, tied input and output
word vectors (Press & Wolf 2017), dropout on the word vectors and on the decoder's outputs, DropConnect
on its recurrent matrices (weight drop)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors import safe_open

from vaekit.cli import main
from vaekit.config import ModelConfig
from vaekit.data.text import sentence_lengths
from vaekit.data.vocab import BOS_ID, EOS_ID, FIRST_OUTPUT_ID, PAD_ID
from vaekit.models import build_model
from vaekit.nn.recurrent import Dropout
from vaekit.nn.sequence import EVAL_LOGIT_ELEMENTS, TokenHead
from vaekit.train import load_run

TINY_TEXT = ["--hidden", "16", "--embedding-dim", "8", "--latent-dim", "4", "--batch-size", "32", "--quiet"]
X = torch.tensor([[BOS_ID, 7, 9, 4, 25, EOS_ID, PAD_ID], [BOS_ID, 11, EOS_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID]])


def tiny(name: str = "vae", vocab_size: int = 60, hidden: int = 16, layers: int = 1, **fields):
    torch.manual_seed(0)
    cfg = ModelConfig(name=name, arch="gru", hidden=(hidden,) * layers, embedding_dim=8, latent_dim=4, **fields)
    return build_model(cfg, (40,), 0, vocab_size)


@pytest.mark.parametrize("name, hidden", [("vae", 16), ("lm", 8)])  # with a projection 16 -> 8, and without
def test_tied_output_matrix_is_the_word_vectors_one_parameter(name, hidden):
    model = tiny(name, hidden=hidden, softmax="full", tie_embeddings=True)
    embed, head = model.decoder.embed.weight, model.head
    assert head.output_weight().data_ptr() == embed[FIRST_OUTPUT_ID:].data_ptr()  # a view, not a copy
    assert all(p.shape[0] != 58 or p.dim() == 1 for p in head.parameters())  # no (classes, .) matrix of its own
    assert (head.proj is not None) == (hidden != 8)
    untied = tiny(name, hidden=hidden, softmax="full")
    count = sum(p.numel() for p in model.parameters())
    projection = hidden * 8 if hidden != 8 else 0
    assert count == sum(p.numel() for p in untied.parameters()) - 58 * hidden + projection
    z = torch.randn(2, 4) if name == "vae" else torch.zeros(2, 0)
    model.decode(z).log_prob(X).sum().backward()
    out_rows = embed.grad[FIRST_OUTPUT_ID:]  # every output class gets a gradient through the softmax,
    assert (out_rows.abs().sum(1) > 0).all()  # input rows or not: the one matrix is trained by both uses
    assert "head.bias" in model.state_dict() and not any(k.startswith("head._tied") for k in model.state_dict())


@pytest.mark.parametrize("fields", [{"softmax": "full"}, {"softmax": "full", "tie_embeddings": True}])
def test_log_prob_is_the_sum_of_per_token_log_probs_by_hand(fields):
    model = tiny("vae", vocab_size=3000, **fields).eval()  # 3000 classes: adaptive unless full is asked
    assert model.head.adaptive is None
    z = torch.randn(2, 4)
    with torch.no_grad():
        got = model.decode(z).log_prob(X)
        for row in range(2):
            state, total = model.decoder.initial_state(z[row : row + 1], 1), 0.0
            for t in range(int(sentence_lengths(X[row : row + 1])) - 1):  # words + <eos>
                h, state = model.decoder.step(X[row : row + 1, t], z[row : row + 1], state)
                logp = model.head.log_probs(h)[0]
                assert math.isclose(float(logp.exp().sum()), 1.0, rel_tol=1e-5)
                total += float(logp[X[row, t + 1] - FIRST_OUTPUT_ID])
            assert math.isclose(float(got[row]), total, rel_tol=1e-5, abs_tol=1e-4)


def test_a_tied_run_trains_saves_once_and_reloads_tied(ptb_slice_file, tmp_path, capsys):
    run = tmp_path / "tied"
    args = ["train", "lm", "--data", str(ptb_slice_file), "--epochs", "1", "--tie-embeddings", *TINY_TEXT]
    assert main([*args, "--out", str(run)]) == 0
    model_cfg = json.loads((run / "config.json").read_text())["model"]
    assert model_cfg["tie_embeddings"] and model_cfg["softmax"] == "full"  # --tie-embeddings implies full
    with safe_open(str(run / "model.safetensors"), "pt") as f:
        assert sorted(k for k in f.keys() if k.startswith("head.")) == ["head.bias", "head.proj.weight"]
    model, _ = load_run(run)
    assert model.head.output_weight().data_ptr() == model.decoder.embed.weight[FIRST_OUTPUT_ID:].data_ptr()
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    assert math.isfinite(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["nll"])


def test_tying_with_the_adaptive_head_or_off_text_is_a_one_line_error(ptb_slice_file, tmp_path, capsys):
    text = ["--data", str(ptb_slice_file), "--epochs", "1", *TINY_TEXT]
    assert main(["train", "vae", *text, "--tie-embeddings", "--softmax", "adaptive", "--out", str(tmp_path / "a")]) == 2
    assert "adaptive softmax does not have" in capsys.readouterr().err
    assert main(["train", "vae", "--data", "digits", "--tie-embeddings", "--quiet", "--out", str(tmp_path / "b")]) == 2
    assert "for the sentence models on text" in capsys.readouterr().err
    digits = ["train", "vae", "--data", "digits", "--quiet", "--out", str(tmp_path / "c")]
    assert main([*digits, "--embedding-dropout", "0.5"]) == 2 and not (tmp_path / "c" / "config.json").exists()
    assert not (tmp_path / "a").exists() and not (tmp_path / "b" / "config.json").exists()


def test_resetting_the_decoder_keeps_tied_word_vectors():
    model = tiny("vae", softmax="full", tie_embeddings=True)
    with torch.no_grad():
        model.head.bias.fill_(1.0)
    vectors = model.decoder.embed.weight.detach().clone()
    model.reset_decoder()
    assert torch.equal(model.decoder.embed.weight, vectors) and torch.equal(model.head.bias, torch.zeros(58))


def test_dropout_on_word_vectors_and_on_outputs_are_separate_and_train_only():
    plain = tiny("vae")
    words = tiny("vae", embedding_dropout=0.5)  # the same weights (seed 0), dropout on the word vectors
    outputs = tiny("vae", dropout=0.5)  # ... on the decoder's outputs only
    z = torch.randn(2, 4)
    for model in (plain.eval(), words.eval(), outputs.eval()):
        with torch.no_grad():  # evaluation: no dropout anywhere, the same numbers
            torch.testing.assert_close(model.decode(z).log_prob(X), plain.decode(z).log_prob(X))
            torch.testing.assert_close(model.encode(X).mean, plain.encode(X).mean)
    words.train(), outputs.train()
    torch.manual_seed(1)
    with torch.no_grad():
        assert not torch.equal(words.encode(X).mean, words.encode(X).mean)  # the encoder's word vectors dropped
        assert torch.equal(outputs.encode(X).mean, outputs.encode(X).mean)  # output dropout leaves the encoder
        for model in (words, outputs):
            assert not torch.equal(model.decode(z).log_prob(X), model.decode(z).log_prob(X))
    assert words.decoder.embedding_dropout.p == words.encoder.embedding_dropout.p == 0.5
    assert words.decoder.dropout.p == 0.0 and outputs.decoder.embedding_dropout.p == 0.0


@pytest.mark.parametrize("name, layers", [("vae", 1), ("lm", 2)])
def test_weight_drop_masks_the_recurrent_matrices_once_per_batch_in_training_only(name, layers):
    plain = tiny(name, layers=layers)
    dropped = tiny(name, layers=layers, weight_drop=0.5)  # the same weights (seed 0)
    z = torch.randn(2, 4) if name == "vae" else None
    rnn = dropped.decoder.rnn
    before = {k: v.detach().clone() for k, v in rnn.named_parameters()}
    with torch.no_grad():  # evaluation: the full matrices, the same numbers as without it
        torch.testing.assert_close(dropped.eval().decoder(X, z), plain.eval().decoder(X, z))
    dropped.train()
    torch.manual_seed(1)
    first, second = dropped.decoder(X, z), dropped.decoder(X, z)
    assert not torch.equal(first, second)  # a new mask each batch
    # one mask per batch, the same at every step: rerunning the RNN with that masked matrix in place
    # gives the same states, which a mask drawn per step would not
    torch.manual_seed(2)
    masked = {f"weight_hh_l{k}": dropped.decoder.weight_drop(getattr(rnn, f"weight_hh_l{k}")) for k in range(layers)}
    torch.manual_seed(2)
    out = dropped.decoder(X, z)
    assert all(float((m == 0).float().mean()) == pytest.approx(0.5, abs=0.05) for m in masked.values())
    out.sum().backward()  # gradients reach the parameters, only through the kept entries
    grad = rnn.weight_hh_l0.grad
    assert grad is not None and bool((grad[masked["weight_hh_l0"] == 0] == 0).all()) and grad.abs().sum() > 0
    with torch.no_grad():
        for k, m in masked.items():
            getattr(rnn, k).copy_(m)
        dropped.decoder.weight_drop.p = 0.0
        torch.testing.assert_close(dropped.decoder(X, z), out)
        for k, v in before.items():
            getattr(rnn, k).copy_(v)
        dropped.decoder.weight_drop.p = 0.5
    assert all(torch.equal(v, before[k]) for k, v in rnn.named_parameters())  # the stored weights untouched


def test_weight_drop_is_recorded_in_the_run_and_refused_off_text(ptb_slice_file, tmp_path, capsys):
    run = tmp_path / "wd"
    assert (
        main(
            [
                "train",
                "lm",
                "--data",
                str(ptb_slice_file),
                "--epochs",
                "1",
                *TINY_TEXT,
                "--weight-drop",
                "0.3",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert json.loads((run / "config.json").read_text())["model"]["weight_drop"] == 0.3
    assert load_run(run)[0].decoder.weight_drop.p == 0.3
    digits = ["train", "vae", "--data", "digits", "--quiet", "--weight-drop", "0.5", "--out", str(tmp_path / "d")]
    assert main(digits) == 2 and "--weight-drop" in capsys.readouterr().err
    assert main(["train", "lm", "--data", str(ptb_slice_file), "--weight-drop", "1", "--out", str(tmp_path / "e")]) == 2
    assert not (tmp_path / "d" / "config.json").exists() and not (tmp_path / "e").exists()


def test_a_tied_model_starts_near_the_uniform_distribution():
    # N(0, 1) word vectors as output rows made the first logits ~16 wide: 17 nats per token at the
    # start instead of log(2998) = 8.0, and the first epoch went to undoing that (BENCHMARKS.md)
    torch.manual_seed(0)
    cfg = ModelConfig(name="lm", arch="gru", hidden=(64,), embedding_dim=64, softmax="full", tie_embeddings=True)
    model = build_model(cfg, (40,), 0, 3000).eval()  # no projection: the state meets the word vectors as they are
    x = torch.cat([torch.full((8, 1), BOS_ID), torch.randint(4, 3000, (8, 20)), torch.full((8, 1), EOS_ID)], 1)
    with torch.no_grad():
        per_token = float(-model.log_prob(x).sum()) / (8 * 21)
    assert abs(per_token - math.log(2998)) < 0.5
    vectors = model.decoder.embed.weight.detach()
    assert float(vectors.abs().max()) <= 0.1 and not vectors[PAD_ID].any()


@pytest.mark.parametrize("softmax", ["adaptive", "full"])
def test_the_output_layer_runs_in_float32_under_bf16_autocast(softmax):
    # `--precision bf16` on PTB crashed inside torch's adaptive softmax (bf16 rows into a float32 output)
    model = tiny("vae", vocab_size=3000, softmax=softmax).eval()
    assert (model.head.adaptive is not None) == (softmax == "adaptive")
    z, x = torch.randn(2, 4), X.clone()
    x[0, 2:4] = torch.tensor([2500, 2999])  # words in the adaptive softmax's tail cluster, where it failed
    plain = model.decode(z).log_prob(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model.decode(z).log_prob(x)
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed).all()
    assert torch.allclose(mixed, plain, rtol=0.02)  # the recurrent products in bf16, the softmax not
    mixed.sum().backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_the_adaptive_head_gives_torchs_log_probs_and_gradients_and_its_products_may_be_bf16():
    # TokenHead computes torch's adaptive softmax itself so that its products can run in bf16
    torch.manual_seed(0)
    adaptive = torch.nn.AdaptiveLogSoftmaxWithLoss(32, 10000, [2000, 6000], div_value=4.0)
    head = TokenHead(32, 10000)
    head.adaptive = adaptive
    h = torch.randn(400, 32, requires_grad=True)
    target = torch.cat([torch.randint(0, 2000, (300,)), torch.randint(2000, 10000, (98,)), torch.tensor([2000, 9999])])
    ours, theirs = head.target_log_prob(h, target), adaptive(h, target).output
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    for a, b in zip(
        torch.autograd.grad(ours.sum(), [h, *adaptive.parameters()]),
        torch.autograd.grad(theirs.sum(), [h, *adaptive.parameters()]),
    ):
        torch.testing.assert_close(a, b)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = head.target_log_prob(h, target)
    assert mixed.dtype == torch.float32
    error = (mixed - theirs).detach()
    assert float(error.abs().max()) < 0.05 and abs(float(error.mean())) < 5e-3
    assert float(error.abs().max()) > 0  # the products did run in bf16


def test_dropout_keeps_its_rate_and_the_expected_value_and_is_off_in_evaluation():
    torch.manual_seed(0)
    x = torch.ones(1000, 1000)
    for p in (0.3, 0.5):
        drop = Dropout(p)
        y = drop(x)
        assert abs(float((y == 0).float().mean()) - p) < 0.003 and abs(float(y.mean()) - 1) < 0.005
        assert torch.unique(y).tolist() == pytest.approx([0.0, 1 / (1 - p)])
        assert drop.eval()(x) is x
    assert not Dropout(1.0)(x).any()


def test_a_smaller_encoder_trains_saves_reloads_and_is_refused_where_there_is_none(ptb_slice_file, tmp_path, capsys):
    model, same = tiny("vae", hidden=16, encoder_hidden=8), tiny("vae", hidden=16)
    assert model.encoder.rnn.hidden_size == 8 and model.decoder.rnn.hidden_size == 16
    assert model.latent_head.linear.in_features == 8  # q(z|x) reads the smaller state
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in same.parameters())
    q = model.encode(X)
    assert q.mean.shape == (2, 4) and torch.isfinite(model.decode(q.rsample()).log_prob(X)).all()
    run = tmp_path / "small-encoder"
    text = ["--data", str(ptb_slice_file), "--epochs", "1", *TINY_TEXT]
    assert main(["train", "vae", *text, "--encoder-hidden", "8", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["model"]["encoder_hidden"] == 8
    loaded, _ = load_run(run)
    assert loaded.encoder.rnn.hidden_size == 8 and loaded.decoder.rnn.hidden_size == 16
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    assert math.isfinite(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["nll"])
    assert main(["train", "lm", *text, "--encoder-hidden", "8", "--out", str(tmp_path / "lm")]) == 2
    assert "the language model has none" in capsys.readouterr().err and not (tmp_path / "lm").exists()
    digits = ["train", "vae", "--data", "digits", "--quiet", "--encoder-hidden", "8", "--out", str(tmp_path / "d")]
    assert main(digits) == 2 and "for the sentence models on text" in capsys.readouterr().err


@pytest.mark.parametrize("tie", [False, True])
def test_the_blocked_evaluation_path_gives_the_training_paths_log_probs(tie):
    """Without gradients the full softmax scores rows in cache-sized blocks (logit - logsumexp); the
    numbers are the log-softmax's, across block boundaries (2,000 rows, blocks of 699 at 3,000 classes)."""
    model = tiny("vae", vocab_size=3002, hidden=16, softmax="full", tie_embeddings=tie).eval()
    head = model.head
    h, target = torch.randn(2000, 16) * 3, torch.randint(0, 3000, (2000,))
    with_grad = head.target_log_prob(h, target)  # the training path
    with torch.no_grad():
        blocked = head.target_log_prob(h, target)
        assert 2000 > EVAL_LOGIT_ELEMENTS // head.classes  # more than one block
    torch.testing.assert_close(blocked, with_grad.detach(), rtol=1e-5, atol=1e-5)
