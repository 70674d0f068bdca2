"""Sentence VAEs a person can use (issue 20): a collapsed code said aloud, readable decodes, unknown
words named, the tokenizer recorded in the run and applied to typed sentences."""

from __future__ import annotations

import json

import pytest
import torch

from vaekit.cli import main
from vaekit.config import ModelConfig
from vaekit.data import load_dataset
from vaekit.data.text import TextOptions, trim_padding
from vaekit.data.tokenize import Tokenizer
from vaekit.data.vocab import BOS_ID, EOS_ID, FIRST_OUTPUT_ID, UNK_ID, Vocabulary
from vaekit.eval import code_use
from vaekit.eval.code_use import COLLAPSED_KL, CodeUse
from vaekit.generate.text import CUT_MARK, DecodeRule, decode_texts, reconstruct_sentences, unknown_words
from vaekit.models import build_model
from vaekit.nn.sequence import banned_tokens
from vaekit.objectives import ELBO
from vaekit.train import load_run

TINY_TEXT = ["--hidden", "16", "--embedding-dim", "16", "--latent-dim", "4", "--batch-size", "32", "--quiet"]


def test_a_repeated_ngram_and_unk_are_banned_before_the_choice():
    # ids: 4 5 6 are words; the sentence so far: <bos> 4 5 6 4 5 -> 6 would repeat the trigram "4 5 6"
    tokens = torch.tensor([[BOS_ID, 4, 5, 6, 4, 5]])
    logp = torch.zeros(1, 6)  # classes 0..5 = ids 2..7
    banned = banned_tokens(logp, tokens, no_repeat=3, allow_unk=True)
    assert torch.isinf(banned[0, 6 - FIRST_OUTPUT_ID]) and torch.isfinite(banned).sum() == 5
    bigram = banned_tokens(logp, tokens, no_repeat=2, allow_unk=True)  # "5 6" seen: 6 banned after 5
    assert torch.isinf(bigram[0, 6 - FIRST_OUTPUT_ID]) and torch.isfinite(bigram).sum() == 5
    assert torch.isfinite(banned_tokens(logp, tokens, no_repeat=0, allow_unk=True)).all()
    no_unk = banned_tokens(logp, tokens, no_repeat=0, allow_unk=False)
    assert torch.isinf(no_unk[0, UNK_ID - FIRST_OUTPUT_ID]) and torch.isfinite(no_unk).sum() == 5
    with pytest.raises(Exception, match="--no-repeat"):
        DecodeRule(no_repeat=1)


def _trigrams(row: list[int]) -> list[tuple[int, ...]]:
    words = row[1 : row.index(EOS_ID)] if EOS_ID in row else row[1:]
    return [tuple(words[i : i + 3]) for i in range(len(words) - 2)]


def test_greedy_decodes_under_the_rule_never_repeat_a_trigram(text_use_run):
    model, _ = load_run(text_use_run)
    z = torch.randn(64, model.latent_dim, generator=torch.Generator().manual_seed(0)) * 3
    plain = model.decode(z).greedy().tolist()
    ruled = model.decode(z).greedy(no_repeat=3, allow_unk=False).tolist()
    assert any(len(set(t)) < len(t) for t in map(_trigrams, plain)), "the test needs a model that loops"
    for row in ruled:
        assert len(set(_trigrams(row))) == len(_trigrams(row))
        assert UNK_ID not in row
    vocab = Vocabulary.load(text_use_run / "vocab.json")
    texts = decode_texts(vocab, model.decode(z).greedy())
    assert any(t.endswith(CUT_MARK) for t in texts)  # a decode that hit the length limit says so


def test_greedy_decodes_leave_out_unk_unless_asked_and_samples_keep_it(text_use_run, tmp_path, capsys):
    """PTB's <unk> is one token in twenty: a greedy decode that may choose it reads "the <unk> of <unk>".

    Greedy decodes ban it by default (--unk allows it); samples are the model's own (--no-unk bans it).
    The ban itself is checked on the decoder above; here, which rule each command follows and says.
    """
    cases = [
        (["reconstruct", "-n", "5"], False),
        (["reconstruct", "-n", "5", "--unk"], True),
        (["interpolate", "--pairs", "1", "--steps", "3"], False),
        (["sample", "-n", "5"], True),
        (["sample", "-n", "5", "--greedy"], False),
        (["sample", "-n", "5", "--no-unk"], False),
    ]
    for i, (command, allowed) in enumerate(cases):
        out = tmp_path / f"{i}.txt"
        assert main([command[0], str(text_use_run), *command[1:], "--out", str(out)]) == 0
        said = capsys.readouterr().err
        assert ("<unk> may be chosen" in said) == allowed and ("<unk> never chosen" in said) != allowed, command
        if not allowed:
            decodes = out.read_text().splitlines()
            decodes = [line for line in decodes if not line.startswith(("(", "  in:", "from:", "to:"))]
            assert not any("<unk>" in line for line in decodes), command
    assert main(["reconstruct", str(text_use_run), "--unk", "--no-unk"]) == 2  # one or the other
    capsys.readouterr()


def test_the_tokenizer_is_saved_with_the_vocabulary_and_reads_typed_sentences():
    vocab = Vocabulary.build([["the", "cat", "eats", "."]], tokenizer=Tokenizer(lower=True, split_punct=True))
    again = Vocabulary.from_json(vocab.to_json())
    assert again.tokenizer == Tokenizer(lower=True, split_punct=True)
    assert again.split("The Cat eats an apple.") == ["the", "cat", "eats", "an", "apple", "."]
    assert unknown_words(again, "The Cat eats an apple.") == ["an", "apple"]
    old = Vocabulary.from_json(json.dumps({"level": "word", "tokens": list(vocab.tokens)}))  # a run from before
    assert old.tokenizer == Tokenizer() and old.split("The Cat.") == ["The", "Cat."]


def test_pretraining_is_an_autoencoder_then_one_decoder_reset():
    torch.manual_seed(0)
    cfg = ModelConfig(name="vae", arch="gru", hidden=(16,), embedding_dim=8, latent_dim=4)
    model = build_model(cfg, (12,), 0, 60).train()
    objective = ELBO(warmup_epochs=1.0, pretrain_epochs=2.0)
    weights = [float(objective.kl_weight(torch.tensor(p))) for p in (0.0, 1.9, 2.0, 2.5, 3.0, 9.0)]
    assert weights == [0.0, 0.0, 0.0, 0.5, 1.0, 1.0]  # no KL cost while pretraining, then the warm-up
    x = torch.tensor([[BOS_ID, 5, 6, 7, EOS_ID], [BOS_ID, 8, 9, EOS_ID, 0]])
    decoder, embedding = model.decoder.rnn.weight_hh_l0, model.decoder.embed.weight.clone()

    def snapshot():
        return decoder.detach().clone()

    objective(model, x, None, torch.tensor(1.9))
    before = snapshot()
    objective(model, x, None, torch.tensor(1.95))
    assert torch.equal(snapshot(), before)  # still pretraining
    objective(model, x, None, torch.tensor(2.0))  # crossing: fresh decoder weights, same parameter objects
    after = snapshot()
    assert not torch.equal(after, before) and model.decoder.rnn.weight_hh_l0 is decoder
    objective(model, x, None, torch.tensor(2.1))
    assert torch.equal(snapshot(), after)  # once only
    assert torch.equal(model.decoder.embed.weight, embedding)  # the encoder's word vectors are kept
    resumed = ELBO(warmup_epochs=1.0, pretrain_epochs=2.0)
    resumed(model, x, None, torch.tensor(3.0))  # a run resumed after pretraining: no reset
    assert torch.equal(snapshot(), after)
    at_the_end = ELBO(warmup_epochs=1.0, pretrain_epochs=2.0)
    at_the_end(model, x, None, torch.tensor(2.0))  # a run resumed just as pretraining ends: the reset
    assert not torch.equal(snapshot(), after)


def test_the_bag_of_words_term_scores_every_word_from_z_alone():
    torch.manual_seed(0)
    for arch in ("gru", "lstm"):
        cfg = ModelConfig(name="vae", arch=arch, hidden=(16, 16), embedding_dim=8, latent_dim=4)
        model = build_model(cfg, (12,), 0, 60).train()
        x = torch.tensor([[BOS_ID, 5, 6, 7, 5, EOS_ID, 0], [BOS_ID, 8, 9, EOS_ID, 0, 0, 0]])
        z = torch.randn(2, 4)
        state = model.decoder.initial_state(z, 2)
        first = (state[0] if arch == "lstm" else state)[-1]  # the last layer's first state
        log_p = model.head.log_probs(first).detach()  # (2, classes)
        by_hand = [
            -sum(float(log_p[i, t - FIRST_OUTPUT_ID]) for t in row if t > 0 and t != BOS_ID)
            for i, row in enumerate(x.tolist())
        ]  # words and <eos>, a repeated word twice
        bow = model.bag_of_words_nll(z, x)
        assert torch.allclose(bow, torch.tensor(by_hand), atol=1e-5)
        shuffled = torch.tensor([[BOS_ID, 7, 5, 5, 6, EOS_ID, 0], [BOS_ID, 9, 8, EOS_ID, 0, 0, 0]])
        assert torch.allclose(model.bag_of_words_nll(z, shuffled), bow, atol=1e-5)  # a bag: order does not count

    torch.manual_seed(1)
    plain, with_bow = ELBO(), ELBO(bow_weight=2.0)
    torch.manual_seed(1)
    a = plain(model, x, None, torch.tensor(5.0))
    torch.manual_seed(1)
    b = with_bow(model, x, None, torch.tensor(5.0))
    assert torch.allclose(b.terms["elbo"], a.terms["elbo"])  # the bound logged is the model's own
    assert torch.allclose(b.loss, a.loss + 2.0 * b.terms["bow"].mean())
    model.zero_grad()
    b.terms["bow"].sum().backward()
    assert model.encoder.rnn.weight_ih_l0.grad.abs().sum() > 0  # the term trains the encoder, through z
    with pytest.raises(Exception, match="bow_weight"):
        ELBO(bow_weight=-1.0)
    image_vae = build_model(ModelConfig(name="vae", hidden=(8,), latent_dim=2, likelihood="bernoulli"), (1, 4, 4), 0)
    for option in ({"bow_weight": 1.0}, {"pretrain_epochs": 1.0}):
        with pytest.raises(Exception, match="for text runs"):
            ELBO(**option).check(image_vae)
        ELBO(**option).check(model)


def test_a_text_only_option_on_images_is_refused_before_the_run_is_made(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "vae", "--data", "digits", "--epochs", "1", "--set", "bow_weight=1", "--out", str(run)]
    assert main(args) == 2
    assert "--set bow_weight predicts a sentence's words from z: it is for text runs" in capsys.readouterr().err
    assert not run.exists()  # nothing to clear away before the corrected command can run


def test_collapse_is_a_warning_with_what_to_try():
    used = CodeUse(kl=6.2, active=32, latent_dim=32, text=True)
    assert not used.collapsed and used.warning() is None
    for dead in (CodeUse(0.01, 0, 32, True), CodeUse(COLLAPSED_KL / 2, 3, 32, True)):
        assert dead.collapsed
        assert "posterior collapse" in dead.warning() and "pretrain_epochs" in dead.warning()
    assert "--kl-warmup" in CodeUse(0.02, 0, 16, False).warning()


def test_a_collapsed_image_run_says_so_in_train_and_eval(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "vae", "--data", "digits", "--epochs", "1", "--hidden", "32", "--latent-dim", "4"]
    assert main([*args, "--out", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "warning: posterior collapse: KL" in out and "0 of 4 latents active" in out
    assert main(["eval", str(run), "-k", "2"]) == 0
    assert "posterior collapse" in capsys.readouterr().out
    assert json.loads((run / "eval-test-best-k2.json").read_text())["collapsed"] is True


def test_unknown_words_of_from_and_to_are_named(text_use_run, capsys):
    code = main(
        ["interpolate", str(text_use_run), "--from", "The Cat eats a red apple.", "--to", "the company", "--steps", "3"]
    )
    assert code == 0
    captured = capsys.readouterr()
    err = captured.err
    assert (captured.out + err).count("decoding:") == 1  # the rule said once, on stderr
    assert "--from: " in err and "'The'" in err and "'Cat'" in err and "'apple.'" in err
    assert "--to:" not in err  # every word of "the company" is in PTB's vocabulary
    assert "decoding: no 3-word sequence repeated" in err


@pytest.fixture(scope="module")
def text_use_run(ptb_slice_file, tmp_path_factory):
    run = tmp_path_factory.mktemp("text_use") / "run"
    args = ["train", "vae", "--data", str(ptb_slice_file), "--epochs", "1", *TINY_TEXT, "--out", str(run)]
    assert main(args) == 0
    return run


def test_the_text_defaults_use_z_on_a_real_ptb_slice(real_data_dir, tmp_path, capsys):
    """`vaekit train vae --data FILE.txt` with no other flags: the code is in use after a few epochs."""
    source = real_data_dir / "ptb" / "ptb.train.txt"
    if not source.is_file():
        pytest.skip("the PTB files are not in the data folder")
    path, run = tmp_path / "ptb600.txt", tmp_path / "run"  # 480 training sentences
    path.write_text("\n".join(source.read_text().splitlines()[:600]) + "\n")
    assert main(["train", "vae", "--data", str(path), "--epochs", "4", "--out", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "code in use: KL" in out and "posterior collapse" not in out
    model, cfg = load_run(run)
    options = cfg.model.options  # the text defaults, recorded in the run
    assert options["warmup_epochs"] > 0 and options["free_bits"] > 0 and cfg.model.word_dropout > 0
    data = load_dataset(str(path), text=TextOptions.of_run(cfg.data, run))
    use = code_use.measure(model, data.val_x)
    assert use.kl > 3.0 and use.active >= 16, use  # measured: 4.4 nats, 32 of 32 (BENCHMARKS.md)
    x = trim_padding(data.val_x)
    with torch.no_grad():
        means = model.encode(x).mean  # (N, D)
        own = model.decode(means).log_prob(x)  # each sentence under its own code
        other = model.decode(means.roll(1, 0)).log_prob(x)  # ... and under its neighbour's
    assert float((own - other).mean()) > 0.2  # the code carries its sentence (measured: 0.58 nats)
    decodes = reconstruct_sentences(model, Vocabulary.load(run / "vocab.json"), data.val_x)
    assert len(set(decodes)) >= 2  # not one sentence for every input, as after collapse


def test_tokenizer_flags_on_a_text_file_are_recorded_and_applied(tmp_path, capsys):
    lines = [f"The {a} Cat sees a {b} apple." for a in ("red", "old", "big", "small") for b in ("green", "ripe")] * 5
    path, run = tmp_path / "cats.txt", tmp_path / "run"
    path.write_text("\n".join(lines) + "\n")
    args = ["train", "vae", "--data", str(path), "--epochs", "1", "--lower", "--split-punct", *TINY_TEXT]
    assert main([*args, "--out", str(run)]) == 0
    vocab = Vocabulary.load(run / "vocab.json")
    assert vocab.tokenizer == Tokenizer(lower=True, split_punct=True) and "apple" in vocab.index and "." in vocab.index
    capsys.readouterr()
    assert main(["interpolate", str(run), "--from", "The Cat sees a RED apple.", "--to", "A dog.", "--steps", "2"]) == 0
    err = capsys.readouterr().err
    assert "--from:" not in err  # lower-cased and split like the training text: every word known
    assert "--to: 1 word(s) outside the run's vocabulary, read as <unk>: 'dog'" in err
