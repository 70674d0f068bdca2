"""Translation (issue 24) on a slice of the real Tatoeba English-French pairs: the pairs data and its
split, the seq2seq model's likelihood, greedy and beam decoding, BLEU, and every command on a tiny run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from vaekit.cli import main
from vaekit.data import PairOptions, load_dataset
from vaekit.data.pairs import FRA_ENG, load_pairs_file
from vaekit.data.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from vaekit.eval.translation import corpus_scores
from vaekit.generate.translate import beam_search, greedy
from vaekit.models import load_run
from vaekit.models.seq2seq import Seq2Seq

from .conftest import shared_data_dir

TINY = ["--hidden", "32", "--embedding-dim", "16", "--batch-size", "32", "--quiet"]


@pytest.fixture(scope="session")
def fra_file() -> Path:
    folder = shared_data_dir()
    path = None if folder is None else folder / "fra-eng" / "fra.txt"
    if path is None or not path.is_file():
        pytest.skip("fra-eng pairs not found: set VAEKIT_DATA_DIR to the shared/data folder")
    return path


@pytest.fixture(scope="session")
def pairs_slice(fra_file, tmp_path_factory) -> Path:
    """Every 40th pair of the real file (1,900 pairs, short and long English sentences alike)."""
    lines = fra_file.read_text(encoding="utf-8").splitlines()[::40]
    out = tmp_path_factory.mktemp("pairs") / "fra-slice.tsv"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def slice_data(pairs_slice):
    return load_pairs_file(pairs_slice)


@pytest.fixture(scope="session")
def translation_run(pairs_slice, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "seq2seq"
    flags = ["--data", str(pairs_slice), "--epochs", "3", "--lr", "3e-3", *TINY]
    assert main(["--threads", "1", "train", "seq2seq", "--out", str(out), *flags]) == 0
    return out


# ---- data --------------------------------------------------------------------------------------


def test_fra_eng_is_the_documented_file_and_split(fra_file):
    data = load_dataset("fra-eng", fra_file.parent.parent, download=False)
    info = data.pairs
    assert info.languages == ("en", "fr")
    assert len(info.test_sources) == 2000 and data.val_y.shape[0] >= 1000
    assert data.train_x.shape[0] + data.val_x.shape[0] + data.test_x.shape[0] == 76_037
    train_sources = {tuple(r[r != PAD_ID].tolist()) for r in data.train_y}
    test_rows = {tuple(r[r != PAD_ID].tolist()) for r in data.test_y}
    assert not train_sources & test_rows  # no test English sentence is a training sentence
    assert sum(map(len, info.test_references)) == data.test_x.shape[0]  # every reference kept
    assert len(info.val_sources) == 1000 and sum(map(len, info.val_references)) == data.val_x.shape[0] == 1578


def test_fra_eng_is_fetched_from_its_public_home_without_its_partial_last_line():
    # the download path itself (cut after the last newline, then checked) is tested in test_data.py
    assert FRA_ENG.whole_lines and FRA_ENG.urls[0].startswith("https://raw.githubusercontent.com/")
    assert FRA_ENG.sha256 == "0054ea2102484f4800d0b2cca57460b6b4a2e05328e6954240601065b001b1a6"


@pytest.mark.parametrize("split", ["test", "val"])
def test_split_is_by_source_sentence_and_keeps_every_reference(slice_data, split):
    d, info = slice_data, slice_data.pairs
    targets, sources = d.split(split)
    held, references, group = info.held_out(split)

    def sentences(rows):
        return {tuple(r[r != PAD_ID].tolist()) for r in rows}

    assert not sentences(d.train_y) & sentences(sources)
    assert len(held) == len(references) == int(group.max()) + 1
    assert len(group) == targets.shape[0] == sum(map(len, references))
    # the rows of one source sentence are that sentence and its references, in order
    for g, refs in enumerate(references[:50]):
        assert sentences(sources[group == g]) == {(BOS_ID, *info.source_vocab.encode(held[g]), EOS_ID)}
        assert [d.vocab.decode(r[1:]).split() for r in targets[group == g]] == [
            [w if w in d.vocab.index else "<unk>" for w in ref] for ref in refs
        ]


def test_vocabularies_come_from_the_training_pairs_only(slice_data):
    d = slice_data
    src, tgt = d.pairs.source_vocab, d.vocab
    for vocab, rows in ((src, d.train_y), (tgt, d.train_x)):
        seen = set(rows[rows > UNK_ID].unique().tolist())
        assert seen == set(range(4, len(vocab)))  # every kept token occurs in training, and only those
    assert (d.test_x == UNK_ID).any()  # French words outside the training pairs become <unk>


def test_min_count_max_length_and_reverse(pairs_slice, slice_data):
    two = load_pairs_file(pairs_slice, options=PairOptions(min_count=2))
    assert len(two.vocab) < len(slice_data.vocab) and len(two.pairs.source_vocab) < len(slice_data.pairs.source_vocab)
    short = load_pairs_file(pairs_slice, options=PairOptions(max_length=5))
    assert int((short.train_x != PAD_ID).sum(1).max()) <= 5 + 2 and "skipped" in short.notes
    back = load_pairs_file(pairs_slice, options=PairOptions(reverse=True))
    assert back.pairs.source_vocab.tokens[:8] != slice_data.pairs.source_vocab.tokens[:8]
    assert "ils" in back.pairs.source_vocab.index and "they" in back.vocab.index


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Go.\tVa !\nHi. Salut !\n", "line 2: no tab"),
        (b"Go.\tVa !\n\t Salut\n", "line 2: the first column is empty"),
        (b"Go.\t  \n", "line 1: the second column is empty"),
        (b"Go.\tVa !\nHi.\tSalut \xff!\n", "line 2: bytes that are not UTF-8"),
        (b"", "is empty"),
        (b"a\tb\tc\td\n", "line 1: 4 tab-separated columns"),
    ],
)
def test_bad_pairs_files_give_one_line_and_exit_2(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(content)
    out = tmp_path / "run"
    assert main(["train", "seq2seq", "--data", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and str(bad) in err[0]
    assert not out.exists()  # nothing written


# ---- the model's likelihood ----------------------------------------------------------------------


def _model(data, attention: str, cell: str = "gru") -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(len(data.pairs.source_vocab), len(data.vocab), 12, 16, 1, cell, False, attention).eval()


@pytest.mark.parametrize(("attention", "cell"), [("none", "gru"), ("dot", "gru"), ("additive", "lstm")])
def test_sentence_log_likelihood_is_the_sum_of_its_steps(slice_data, attention, cell):
    """The teacher-forced score (one fused pass for none/dot) equals stepping the decoder by hand,
    the way translation runs it: sum_t log p(y_t | y_<t, x), <eos> included, padding not."""
    model = _model(slice_data, attention, cell)
    x, y = slice_data.val_x[:6], slice_data.val_y[:6]
    with torch.no_grad():
        fast = model.log_prob(x, y)
        memo = model.remember(y)
        state = model.initial_state(memo)
        by_hand = torch.zeros(6)
        for t in range(x.shape[1] - 1):
            logp, state, _ = model.step(x[:, t], memo, state)
            target = x[:, t + 1]
            scored = target != PAD_ID
            by_hand[scored] += logp[scored, target[scored] - 2]
    torch.testing.assert_close(fast, by_hand, rtol=1e-5, atol=1e-4)


def test_padding_is_never_scored(slice_data):
    model = _model(slice_data, "dot")
    x, y = slice_data.val_x[:8], slice_data.val_y[:8]
    wider_x = torch.cat([x, torch.zeros(8, 3, dtype=torch.long)], 1)
    wider_y = torch.cat([y, torch.zeros(8, 4, dtype=torch.long)], 1)
    with torch.no_grad():
        token = model.token_log_probs(wider_x, wider_y)
        torch.testing.assert_close(model.log_prob(wider_x, wider_y), model.log_prob(x, y))
    assert (token[wider_x[:, 1:] == PAD_ID] == 0).all() and (token[wider_x[:, 1:] != PAD_ID] < 0).all()


# ---- decoding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("attention", ["none", "dot", "additive"])
def test_beam_one_is_greedy_and_a_beam_never_scores_below_greedy(translation_run, slice_data, attention):
    trained = load_run(translation_run)[0]  # the default's attention, trained; the others untrained
    model = trained if trained.attention_kind == attention else _model(slice_data, attention)
    source = slice_data.test_y[:24]
    with torch.no_grad():
        g = greedy(model, source)
        one = beam_search(model, source, beam=1)
        _same_up_to_float_ties(model, source, one, g)
        for alpha in (0.0, 1.0):
            wide = beam_search(model, source, beam=4, alpha=alpha)
            assert all(w.score(alpha) >= h.score(alpha) - 1e-5 for w, h in zip(wide, g))
        # the score a hypothesis carries is the model's own log p(y|x)
        rows = torch.full((24, max(len(h.ids) for h in wide) + 2), PAD_ID)
        for i, h in enumerate(wide):
            rows[i, : len(h.ids) + 2] = torch.tensor([1, *h.ids, 2])
        done = torch.tensor([h.finished for h in wide])
        scored = model.log_prob(rows, source)
    torch.testing.assert_close(scored[done], torch.tensor([h.log_prob for h in wide])[done], rtol=1e-4, atol=1e-3)


def _same_up_to_float_ties(model, source, beam_one, greedy_hyps):
    """Beam 1 chooses argmax(score + log p), greedy argmax(log p): the same token, unless two tokens'
    log-probabilities are equal in float32 once added to a long prefix's score (a trained tiny model's
    repetition loops). Where the two differ, the first differing tokens must be such a tie."""
    differ = [i for i, (b, g) in enumerate(zip(beam_one, greedy_hyps)) if b.ids != g.ids]
    assert len(differ) <= 2, f"beam 1 and greedy differ on rows {differ}"
    for i in differ:
        b, g = beam_one[i].ids, greedy_hyps[i].ids
        j = next(t for t in range(min(len(b), len(g))) if b[t] != g[t])
        rows = torch.tensor([[1, *b[: j + 1], 2], [1, *g[: j + 1], 2]])
        logp = model.token_log_probs(rows, source[i : i + 1].expand(2, -1))[:, j]  # each chosen token's
        torch.testing.assert_close(logp[0], logp[1], rtol=0, atol=1e-4)


def test_bleu_of_references_against_themselves_is_100(slice_data):
    refs = slice_data.pairs.test_references
    scores = corpus_scores([r[0] for r in refs], refs)
    assert scores["bleu"] == pytest.approx(100.0) and scores["chrf"] == pytest.approx(100.0)
    assert "tok:none" in scores["bleu_signature"]


# ---- every command on a tiny run -----------------------------------------------------------------


def test_every_command_on_a_translation_run(translation_run, tmp_path, capsys):
    run = str(translation_run)
    config = json.loads((translation_run / "config.json").read_text())
    assert config["source_vocab_size"] > 4 and (translation_run / "source-vocab.json").is_file()
    assert main(["translate", run, "They are watching."]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    assert main(["translate", run, "Zyxwv are watching.", "--beam", "1", "--tokens"]) == 0
    captured = capsys.readouterr()
    assert "not in the source vocabulary" in captured.err and "'zyxwv'" in captured.err
    lines = tmp_path / "in.txt"
    lines.write_text("I'm hungry.\n\nTom left.\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    assert main(["translate", run, "--file", str(lines), "--out", str(out), "--beam", "3"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    assert main(["eval", run, "--beam", "2", "--limit", "40"]) == 0
    table = capsys.readouterr().out
    assert "BLEU" in table and "chrF" in table and "perplexity" in table and "<eos>" in table
    record = json.loads((translation_run / "eval-test-best-beam2-alpha0-first40.json").read_text())  # alpha 0: default
    assert 0 <= record["bleu"] <= 100 and record["nll"] > 0 and record["sentences"] == 40
    assert (translation_run / "translations-test-best-beam2-alpha0.tsv").read_text().count("\n") == 41
    assert main(["translate", run]) == 2  # neither a sentence nor --file: one line, exit 2
    assert main(["report", run, "--limit", "20"]) == 0
    page = (translation_run / "report.html").read_text()
    assert "Test translations" in page and "BLEU by source length" in page and page.count("data:image/png") == 3


def test_eval_on_the_validation_sentences_chooses_the_decoding(translation_run, slice_data, capsys):
    run = str(translation_run)
    assert main(["eval", run, "--split", "val", "--beam", "3", "--alpha", "0.5", "--limit", "30", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    saved = json.loads((translation_run / "eval-val-best-beam3-alpha0.5-first30.json").read_text())
    assert record["split"] == saved["split"] == "val" and record["sentences"] == 30
    assert record["decoding"] == {"beam": 3, "alpha": 0.5} and record["pairs"] >= 30
    tsv = (translation_run / "translations-val-best-beam3-alpha0.5.tsv").read_text().splitlines()
    first_val_sentence, its_references = (part[0] for part in slice_data.pairs.held_out("val")[:2])
    assert len(tsv) == 31 and tsv[1].split("\t")[0] == " ".join(first_val_sentence)
    assert tsv[1].split("\t")[2] == " | ".join(" ".join(r) for r in its_references)
    before = sorted(p.name for p in translation_run.iterdir())
    assert main(["eval", run, "--split", "train"]) == 2  # no references kept for training sentences
    assert "--split val or test" in capsys.readouterr().err
    assert sorted(p.name for p in translation_run.iterdir()) == before


def test_eval_without_sacrebleu_is_one_line_before_decoding(translation_run, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # what `import sacrebleu` meets where it is not installed
    monkeypatch.setitem(sys.modules, "sacrebleu.metrics", None)
    before = sorted(p.name for p in translation_run.iterdir())
    assert main(["eval", str(translation_run), "--limit", "5"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'sacrebleu>=2.3'" in err and "Traceback" not in err
    assert sorted(p.name for p in translation_run.iterdir()) == before


def test_resume_replays_the_same_epochs(pairs_slice, tmp_path):
    flags = ["--data", str(pairs_slice), "--set", "attention=additive", *TINY]
    assert main(["--threads", "1", "train", "seq2seq", "--epochs", "2", "--out", str(tmp_path / "a"), *flags]) == 0
    assert main(["--threads", "1", "train", "seq2seq", "--epochs", "1", "--out", str(tmp_path / "b"), *flags]) == 0
    resume = [
        "--threads",
        "1",
        "train",
        "seq2seq",
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "b"),
        "--resume",
        "--quiet",
    ]
    assert main(resume) == 0
    a, _ = load_run(tmp_path / "a", "last")
    b, _ = load_run(tmp_path / "b", "last")
    for (name, wa), (_, wb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(wa, wb), name


def test_pairs_flags_are_refused_for_other_data(tmp_path, capsys):
    assert main(["train", "vae", "--data", "digits", "--reverse", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "sentence pairs" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_seq2seq_keeps_the_model_contract(slice_data):
    from vaekit.errors import NoPrior, VaekitError
    from vaekit.models import check_model

    model = _model(slice_data, "dot")
    check_model(model)
    assert not model.has_prior and model.num_labels == 0
    with pytest.raises(NoPrior):
        model.prior()
    with pytest.raises(VaekitError, match="translate"):
        model.encode(slice_data.val_x[:2])


# ---- the quality levers and the bottleneck study's task ------------------------------------------


def test_attention_is_a_train_flag_and_set_still_works(pairs_slice, tmp_path, capsys):
    from vaekit.config import ATTENTION_CHOICES
    from vaekit.models.seq2seq import ATTENTION_KINDS

    assert set(ATTENTION_CHOICES) == set(ATTENTION_KINDS)  # the flag's choices are the model's decoders
    base = ["--threads", "1", "train", "seq2seq", "--data", str(pairs_slice), "--epochs", "1", *TINY]
    for flags, kind in ((["--attention", "none"], "none"), (["--set", "attention=additive"], "additive")):
        assert main([*base, "--out", str(tmp_path / kind), *flags]) == 0
        assert json.loads((tmp_path / kind / "config.json").read_text())["model"]["options"]["attention"] == kind
        assert load_run(tmp_path / kind)[0].attention_kind == kind
    capsys.readouterr()
    assert main(["train", "vae", "--data", "digits", "--attention", "dot", "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "attention" in err[0] and "'vae'" in err[0] and not (tmp_path / "v").exists()
    assert main([*base, "--out", str(tmp_path / "x"), "--attention", "luong"]) == 2  # not one of the choices
    assert "invalid choice: 'luong'" in capsys.readouterr().err and not (tmp_path / "x").exists()


@pytest.mark.parametrize(("attention", "cell"), [("none", "gru"), ("dot", "gru"), ("additive", "lstm")])
def test_bidirectional_encoder_joins_both_directions(slice_data, attention, cell):
    torch.manual_seed(0)
    d = slice_data
    model = Seq2Seq(len(d.pairs.source_vocab), len(d.vocab), 12, 16, 2, cell, True, attention).eval()
    x, y = d.val_x[:5], d.val_y[:5]
    memo = model.remember(y)
    steps = int((y[:, 1:] != PAD_ID).sum(1).max())
    assert memo.final.shape == (5, 32)  # the last layer's forward and backward final states, joined
    assert memo.memory is None if attention == "none" else memo.memory.shape == (5, steps, 32)
    state = model.initial_state(memo)
    assert (state[0] if cell == "lstm" else state).shape == (2, 5, 16)  # every decoder layer's first state
    words = y[0, 1:][y[0, 1:] != PAD_ID]  # the first sentence's w_1 .. w_n <eos>, no padding
    backward = model.encoder.rnn(model.source_embed(words[None]))[1]
    backward = (backward[0] if cell == "lstm" else backward)[-1, 0]
    torch.testing.assert_close(memo.final[0, 16:], backward)  # the backward half has read the whole source
    logp = model.log_prob(x, y)
    assert logp.shape == (5,) and bool(torch.isfinite(logp).all()) and bool((logp < 0).all())


def test_dropout_acts_only_while_training(slice_data):
    d = slice_data
    torch.manual_seed(0)
    dropped = Seq2Seq(len(d.pairs.source_vocab), len(d.vocab), 12, 16, 1, "gru", True, "dot", dropout=0.5)
    plain = Seq2Seq(len(d.pairs.source_vocab), len(d.vocab), 12, 16, 1, "gru", True, "dot")
    plain.load_state_dict(dropped.state_dict())  # dropout adds no parameters: the same checkpoints
    x, y = d.val_x[:8], d.val_y[:8]
    with torch.no_grad():
        assert not torch.equal(dropped.train().log_prob(x, y), dropped.log_prob(x, y))  # word vectors, outputs
        torch.testing.assert_close(dropped.eval().log_prob(x, y), plain.eval().log_prob(x, y))
        torch.testing.assert_close(dropped.log_prob(x, y), dropped.log_prob(x, y))


@pytest.mark.parametrize("task", ["copy", "reverse"])
def test_synthetic_task_is_seeded_and_correct(task):
    from vaekit.data.synthetic import LENGTHS, SYMBOLS, synthetic_pairs

    pairs = synthetic_pairs(task, 3000)
    assert pairs == synthetic_pairs(task, 3000) and pairs != synthetic_pairs(task, 3000, seed=1)
    lengths = set()
    for source, target in pairs:
        s, t = source.split(), target.split()
        assert t == (s if task == "copy" else s[::-1]) and set(s) <= set(SYMBOLS)
        lengths.add(len(s))
    assert lengths == set(range(LENGTHS[0], LENGTHS[1] + 1))  # every length from 5 to 60, none outside
    if task == "copy":
        return  # the loader is the same for both tasks: its split is checked once, on reverse
    data = load_dataset(f"synthetic-{task}")
    assert (data.train_x.shape[0], data.val_x.shape[0], data.test_x.shape[0]) == (27_000, 1_000, 2_000)
    assert "skipped" not in data.notes and data.train_x.shape[1] == LENGTHS[1] + 2  # 60 symbols kept
    source, refs = data.pairs.test_sources[0], data.pairs.test_references[0]
    assert refs == [source if task == "copy" else source[::-1]]
