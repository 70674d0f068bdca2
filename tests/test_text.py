"""Sentences under the vaekit contract: data, masking, exact likelihoods, identities, commands.

Real text throughout: a slice of the Penn Treebank written out as a user's file, and the full PTB
where its counts are checked. Models are tiny so the whole file runs in well under a minute.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from vaekit.cli import main
from vaekit.config import ModelConfig
from vaekit.data import load_dataset
from vaekit.data.text import TextOptions, bucketed_order, load_text_file, sentence_lengths, trim_padding
from vaekit.data.vocab import BOS_ID, EOS_ID, FIRST_OUTPUT_ID, PAD_ID, UNK_ID, Vocabulary
from vaekit.errors import VaekitError
from vaekit.eval.text import evaluate_sentences
from vaekit.models import LatentVariableModel, build_model, check_model, text_models
from vaekit.objectives import ELBO, IWAE
from vaekit.train import load_run

TINY_TEXT = ["--hidden", "16", "--embedding-dim", "16", "--latent-dim", "4", "--batch-size", "32", "--quiet"]


@pytest.fixture(scope="module")
def ptb_dir(real_data_dir):
    if not (real_data_dir / "ptb" / "ptb.train.txt").is_file():
        pytest.skip("the PTB files are not in the data folder")
    return real_data_dir


@pytest.fixture(scope="module")
def ptb_slice(ptb_dir, tmp_path_factory):
    """The first 300 PTB training sentences as a user's one-sentence-per-line file."""
    lines = (ptb_dir / "ptb" / "ptb.train.txt").read_text().splitlines()[:300]
    path = tmp_path_factory.mktemp("text") / "ptb_slice.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def slice_data(ptb_slice):
    return load_text_file(ptb_slice)


def tiny_model(name: str, vocab_size: int, width: int = 40, **fields):
    torch.manual_seed(0)
    options = {"vae": {"beta": 1.0, "warmup_epochs": 0.0, "cycle_epochs": 0.0, "free_bits": 0.0}}.get(name, {})
    cfg = ModelConfig(
        name=name,
        arch=fields.pop("arch", "gru"),
        hidden=(16,),
        embedding_dim=8,
        latent_dim=4,
        options=options,
        **fields,
    )
    return build_model(cfg, (width,), 0, vocab_size), cfg


# ---- data --------------------------------------------------------------------------------------


def test_full_ptb_has_its_published_counts(ptb_dir):
    data = load_dataset("ptb", ptb_dir)
    assert (data.train_x.shape[0], data.val_x.shape[0], data.test_x.shape[0]) == (42068, 3370, 3761)
    assert data.vocab.num_outputs == 10000  # 9,999 word types (with PTB's own <unk>) + <eos>
    tokens = int((sentence_lengths(data.train_x) - 1).sum())  # words + <eos>, no <bos>
    assert tokens == 887521 + 42068
    assert data.vocab.tokens[UNK_ID] == "<unk>" and "<unk>" not in data.vocab.tokens[4:]


def test_vocabulary_is_built_from_training_counts_only():
    train = [["b", "a", "b"], ["c", "b", "a"], ["<unk>", "d"]]
    vocab = Vocabulary.build(train, min_count=2)
    assert vocab.tokens == ["<pad>", "<bos>", "<eos>", "<unk>", "b", "a"]  # most frequent first
    assert vocab.encode(["a", "zebra", "c", "<unk>"]) == [5, UNK_ID, UNK_ID, UNK_ID]
    assert Vocabulary.build(train, max_size=1).tokens[4:] == ["b"]
    assert vocab.decode([BOS_ID, 4, 5, EOS_ID, 4, PAD_ID]) == "b a"
    assert Vocabulary.from_json(vocab.to_json()).tokens == vocab.tokens


def test_user_file_split_is_seeded_and_documented(ptb_slice):
    a, b = load_text_file(ptb_slice), load_text_file(ptb_slice)
    assert (a.train_x.shape[0], a.val_x.shape[0], a.test_x.shape[0]) == (240, 30, 30)
    assert torch.equal(a.test_x, b.test_x)
    assert not torch.equal(load_text_file(ptb_slice, seed=1).test_x, a.test_x)
    rows = a.train_x
    assert (rows[:, 0] == BOS_ID).all()
    ends = sentence_lengths(rows) - 1
    assert (rows[torch.arange(rows.shape[0]), ends] == EOS_ID).all()  # <eos> last, then only padding


def test_long_sentences_are_skipped_or_cut_and_counted(ptb_slice):
    lengths = [len(line.split()) for line in ptb_slice.read_text().splitlines()]
    over = sum(n > 10 for n in lengths)
    skipped = load_text_file(ptb_slice, options=TextOptions(max_length=10))
    cut = load_text_file(ptb_slice, options=TextOptions(max_length=10, long_lines="cut"))
    n_skipped = sum(x.shape[0] for x in (skipped.train_x, skipped.val_x, skipped.test_x))
    assert n_skipped == len(lengths) - over and "skipped" in skipped.notes
    assert sum(x.shape[0] for x in (cut.train_x, cut.val_x, cut.test_x)) == len(lengths)
    assert int(sentence_lengths(cut.train_x).max()) == 12  # 10 words + <bos> + <eos>


def test_character_level(ptb_slice):
    data = load_text_file(ptb_slice, options=TextOptions(level="char"))
    assert data.vocab.level == "char" and len(data.vocab) < 80
    line = data.vocab.decode(data.test_x[0].tolist())
    assert " " in line and len(line) == int(sentence_lengths(data.test_x[:1])) - 2


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"\n  \n\t\n", "only blank lines"),
        (b"fine line\nbad \xff\xfe bytes\n", "not UTF-8 text (byte 14, line 2)"),
        (b"word " * 10_001, "10,001 tokens"),
    ],
)
def test_bad_text_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(VaekitError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        load_dataset(str(path))
    assert "\n" not in str(err.value)


def test_buckets_hold_like_lengths_and_keep_every_sentence(slice_data):
    lengths = sentence_lengths(slice_data.train_x)
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(lengths.numel(), generator=gen)
    order = bucketed_order(perm, lengths, batch_size=16, generator=gen, pool=5)
    assert torch.equal(order.sort().values, torch.arange(lengths.numel()))
    spread = lengths[order[:224]].view(14, 16).float()
    assert (spread.max(1).values - spread.min(1).values).mean() < 0.5 * (lengths.max() - lengths.min())
    batch = trim_padding(slice_data.train_x[order[:16]])
    assert batch.shape[1] == int(lengths[order[:16]].max()) and (batch[:, -1] != PAD_ID).any()


# ---- the likelihood ----------------------------------------------------------------------------


@pytest.mark.parametrize("vocab_size, arch", [(60, "gru"), (3000, "lstm")])  # a plain and an adaptive softmax
def test_log_prob_is_the_sum_of_per_token_log_probs_by_hand(vocab_size, arch):
    model, _ = tiny_model("vae", vocab_size, arch=arch)
    model.eval()
    x = torch.tensor(
        [
            [BOS_ID, 7, 9, 4, 2500 % vocab_size, EOS_ID, PAD_ID, PAD_ID],
            [BOS_ID, 11, EOS_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID],
        ]
    )
    z = torch.randn(2, 4)
    with torch.no_grad():
        got = model.decode(z).log_prob(x)  # (2,)
        for row in range(2):
            state, total = model.decoder.initial_state(z[row : row + 1], 1), 0.0
            n = int(sentence_lengths(x[row : row + 1])) - 1  # words + <eos>
            for t in range(n):  # one step at a time, full softmax, the target's entry
                h, state = model.decoder.step(x[row : row + 1, t], z[row : row + 1], state)
                logp = model.head.log_probs(h)[0]
                assert math.isclose(float(logp.exp().sum()), 1.0, rel_tol=1e-5)  # normalised over all classes
                total += float(logp[x[row, t + 1] - FIRST_OUTPUT_ID])
            assert math.isclose(float(got[row]), total, rel_tol=1e-5, abs_tol=1e-4)


@pytest.mark.parametrize("name", text_models())
def test_every_text_model_keeps_the_contract(name):
    model, _ = tiny_model(name, 60)
    check_model(model)
    assert isinstance(model, LatentVariableModel) and model.num_labels == 0
    x = torch.tensor([[BOS_ID, 7, 9, EOS_ID], [BOS_ID, 8, EOS_ID, PAD_ID]])
    assert model.data_kind == "sentences" and not model.trainable_prior
    if name == "lm":
        assert model.code_kind == "none" and model.log_prob(x).shape == (2,) and not model.has_prior
        # no code: decode(z) of an empty code (B, 0) is p(x), the same log p(x)
        torch.testing.assert_close(model.decode(torch.zeros(2, 0)).log_prob(x), model.log_prob(x))
        return
    assert model.code_kind == "continuous"
    q = model.encode(x)
    assert q.batch_shape == (2,) and q.event_shape == (4,)
    p = model.decode(q.rsample((3,)))  # (3, 2) sentences' distributions
    assert p.batch_shape == (3, 2) and p.log_prob(x).shape == (3, 2)
    if model.has_prior:
        z = model.prior().sample((5,))
        assert torch.isfinite(model.prior().log_prob(z)).all()


def test_padding_is_never_scored():
    model, _ = tiny_model("vae", 60)
    model.eval()
    short = torch.tensor([[BOS_ID, 7, 9, EOS_ID]])
    padded = torch.cat([short, torch.full((1, 5), PAD_ID)], dim=1)
    z = torch.randn(1, 4)
    with torch.no_grad():
        lp_short, lp_padded = model.decode(z).log_prob(short), model.decode(z).log_prob(padded)
        per_token = model.decode(z).token_log_probs(padded)
    torch.testing.assert_close(lp_short, lp_padded)
    assert (per_token[0, 3:] == 0).all() and (per_token[0, :3] < 0).all()


def test_k_samples_broadcast_over_sentences():
    model, _ = tiny_model("vae", 60)
    model.eval()
    x = torch.tensor([[BOS_ID, 7, 9, EOS_ID], [BOS_ID, 8, EOS_ID, PAD_ID]])
    z = torch.randn(3, 2, 4)
    with torch.no_grad():
        joint = model.decode(z).log_prob(x)  # (3, 2)
        one = model.decode(z[1]).log_prob(x)  # (2,)
    assert joint.shape == (3, 2)
    torch.testing.assert_close(joint[1], one)


def test_iwae_with_one_sample_is_the_elbo_on_the_same_draw(slice_data):
    model, _ = tiny_model("vae", len(slice_data.vocab))
    model.eval()
    x = trim_padding(slice_data.test_x[:12])
    torch.manual_seed(3)
    log_w, log_px, q = IWAE(1).log_weights(model, x, None)
    torch.manual_seed(3)
    out = ELBO()(model, x, None, torch.tensor(1.0))
    torch.testing.assert_close(log_px[0], -out.terms["recon"])  # the same z
    torch.manual_seed(3)
    bound = IWAE(1)(model, x, None, torch.tensor(1.0)).terms["iwae"]
    torch.testing.assert_close(bound, log_w[0])  # L_1 = log w: the one-draw ELBO, Monte Carlo KL
    assert log_w.shape == (1, 12) and q.batch_shape == (12,)


def test_cyclical_annealing_and_free_bits():
    objective = ELBO(warmup_epochs=2.0, cycle_epochs=4.0)
    weights = [float(objective.kl_weight(torch.tensor(p))) for p in (0.0, 1.0, 2.0, 3.5, 4.0, 5.0)]
    assert weights == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5]
    with pytest.raises(VaekitError, match="kl-cycle"):
        ELBO(warmup_epochs=5.0, cycle_epochs=4.0)
    model, _ = tiny_model("vae", 60)
    x = torch.tensor([[BOS_ID, 7, 9, EOS_ID], [BOS_ID, 8, EOS_ID, PAD_ID]])
    torch.manual_seed(0)
    loose = ELBO(free_bits=100.0)(model, x, None, torch.tensor(1.0))  # every latent below its free nats
    loose.loss.backward()
    assert model.latent_head.linear.weight.grad is not None
    enc_grad = model.latent_head.linear.weight.grad.clone()
    model.zero_grad()
    torch.manual_seed(0)
    (-ELBO(free_bits=100.0)(model, x, None, torch.tensor(1.0)).terms["recon"].mean()).backward()
    torch.testing.assert_close(enc_grad, -model.latent_head.linear.weight.grad)  # no KL gradient left


# ---- a trained text run, through the command line ------------------------------------------------


@pytest.fixture(scope="module")
def text_run(ptb_slice, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae-text"
    assert (
        main(
            [
                "train",
                "vae",
                "--data",
                str(ptb_slice),
                "--epochs",
                "3",
                "--lr",
                "1e-2",
                "--kl-warmup",
                "1",
                "--word-dropout",
                "0.2",
                "--bidirectional",
                "--out",
                str(out),
                *TINY_TEXT,
            ]
        )
        == 0
    )
    return out


def test_is_nll_is_below_the_negative_elbo_and_k1_is_the_elbo(text_run, slice_data):
    model, _ = load_run(text_run)
    x = slice_data.test_x
    tight = evaluate_sentences(model, x, k=50, seed=0)
    assert tight["nll"] <= -tight["elbo"]
    assert tight["tokens"] == int((sentence_lengths(x) - 1).sum())
    assert tight["perplexity"] == pytest.approx(math.exp(tight["nll"] * tight["n"] / tight["tokens"]))
    one = [evaluate_sentences(model, x, k=1, seed=s)["nll"] for s in range(6)]
    assert sum(one) / 6 == pytest.approx(-tight["elbo"], rel=0.02)  # K = 1 is the ELBO (in expectation)


def test_resume_replays_the_same_epochs(ptb_slice, tmp_path):
    flags = ["--data", str(ptb_slice), "--word-dropout", "0.3", "--free-bits", "0.1", "--kl-warmup", "1", *TINY_TEXT]
    flags += ["--set", "pretrain_epochs=1"]  # the decoder reset falls on the resumed epoch's first step
    assert main(["train", "vae", "--epochs", "2", "--out", str(tmp_path / "a"), *flags]) == 0
    assert main(["train", "vae", "--epochs", "1", "--out", str(tmp_path / "b"), *flags]) == 0
    resume = ["--threads", "1", "train", "vae", "--epochs", "2", "--out", str(tmp_path / "b"), "--resume", "--quiet"]
    assert main(resume) == 0
    a, _ = load_run(tmp_path / "a", "last")
    b, _ = load_run(tmp_path / "b", "last")
    for (name, wa), (_, wb) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(wa, wb, msg=name)
    vocab = json.loads((tmp_path / "a" / "vocab.json").read_text())
    assert vocab["tokens"][:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]


def test_every_command_on_a_text_run(text_run, capsys):
    run = str(text_run)
    assert main(["eval", run, "-k", "5"]) == 0
    shown = capsys.readouterr().out
    assert "perplexity per token" in shown and "<eos>" in shown
    assert json.loads((text_run / "eval-test-best-k5.json").read_text())["k"] == 5  # one file per checkpoint and K
    assert main(["sample", run, "-n", "4", "--temperature", "0.8"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 4 and (text_run / "samples.txt").read_text().splitlines() == printed
    assert main(["reconstruct", run, "-n", "3"]) == 0
    assert capsys.readouterr().out.count("in: ") == 3
    ends = ["--from", "the company said", "--to", "mr. smith is chairman"]
    assert main(["interpolate", run, *ends, "--steps", "5"]) == 0
    table = capsys.readouterr().out
    assert "from: the company said" in table and "1.00" in table
    assert main(["latents", run, "--limit", "30"]) == 0
    assert (text_run / "latent-scatter.png").stat().st_size > 1000


@pytest.mark.parametrize("name", [m for m in text_models() if m != "vae"])
def test_every_text_model_trains_and_evaluates(name, ptb_slice, tmp_path, capsys):
    out = tmp_path / name
    assert main(["train", name, "--data", str(ptb_slice), "--epochs", "1", "--out", str(out), *TINY_TEXT]) == 0
    assert main(["eval", str(out), "-k", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert math.isfinite(result.get("nll", result.get("recon")))
    if name == "lm":
        assert main(["sample", str(out), "-n", "2"]) == 0
        assert main(["reconstruct", str(out)]) == 2  # no latent code: a one-line error


def test_text_and_image_settings_do_not_mix(ptb_slice, tmp_path, capsys):
    assert main(["train", "lm", "--data", "digits", "--quiet", "--out", str(tmp_path / "a")]) == 2
    assert main(["train", "cvae", "--data", str(ptb_slice), "--quiet", "--out", str(tmp_path / "b")]) == 2
    assert main(["train", "vae", "--data", "digits", "--arch", "gru", "--quiet", "--out", str(tmp_path / "c")]) == 2
    errors = capsys.readouterr().err
    assert "sentences only" in errors and "does not work on text" in errors and "is for text" in errors
    assert not any((tmp_path / d / "config.json").exists() for d in "abc")
