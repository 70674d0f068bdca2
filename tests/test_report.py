"""`vaekit report`: one self-contained, escaped HTML page for every model of the registry."""

from __future__ import annotations

import base64
import json
import re
import shutil
from html.parser import HTMLParser

import pytest

from tests.browser import console_errors
from vaekit.cli import main
from vaekit.data.vocab import Vocabulary
from vaekit.errors import VaekitError
from vaekit.models import MODELS
from vaekit.models.run import load_run
from vaekit.report import build_report
from vaekit.report.html import EMPTY

IMAGE_MODELS = [name for name, spec in MODELS.items() if spec.build is not None]  # not text-only ones


class Page(HTMLParser):
    """What a report holds: its sections (id -> shown or missing), image sources, tags, attributes."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: dict[str, str] = {}
        self.images: list[str] = []
        self.tags: set[str] = set()
        self.urls: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections[attrs["id"]] = attrs["class"]
        if tag == "img":
            self.images.append(attrs["src"])
        self.urls += [v for k, v in attrs.items() if k in ("src", "href") and v and not v.startswith(("data:", "#"))]


def read_page(path) -> Page:
    page = Page(path.read_text(encoding="utf-8"))
    assert "script" not in page.tags and page.urls == []  # nothing runs, nothing is fetched
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    return page


@pytest.mark.parametrize("name", [*IMAGE_MODELS, "vqvae+prior"])
def test_report_for_every_model_says_what_does_not_apply(name, tiny_run, tmp_path):
    out = build_report(tiny_run(name), tmp_path / "report.html", limit=60, iw_samples=5)
    page = read_page(out)
    shown = {key for key, kind in page.sections.items() if kind == "shown"}
    assert {"run", "curves", "reconstructions", "latent-space"} <= shown
    model, _ = load_run(tiny_run(name))
    assert ("samples" in shown) == model.has_prior  # prior samples exactly when the model declares a prior
    assert ("codebook" in shown) == name.startswith("vqvae")
    assert "interpolations" in shown  # the conditional VAE's too: pairs of one label
    if name in ("vqvae", "vqvae+prior"):
        assert "traversals" not in shown
    else:  # a 2-epoch model may use no latent yet (vampprior's pseudo-input prior): the page must say so
        assert "traversals" in shown or "no latent is in use" in out.read_text(encoding="utf-8")
    assert ("latent-use" in shown) == (not name.startswith("vqvae"))
    assert "manifold" not in shown  # a 4-D code
    assert "sample-quality" not in shown  # vaekit has no classifier of the 8x8 digits, and says so
    assert len(page.images) >= len(shown) - 1  # the run section is tables; every other shown one has a picture
    text = out.read_text()
    missing = {key for key, kind in page.sections.items() if kind == "missing"}
    assert text.count("Not shown for this run: ") == len(missing)
    assert "classifiers of MNIST and Fashion-MNIST only" in text
    if name == "ae":
        assert "--prior gmm:10" in text
    if name == "vqvae":
        assert "vaekit train-prior RUN_DIR" in text


def test_report_of_a_2d_code_draws_the_plane_and_the_manifold(digits_2d_run, tmp_path):
    page = read_page(build_report(digits_2d_run, tmp_path / "r.html", limit=200, iw_samples=10))
    assert page.sections["manifold"] == "shown" and page.sections["latent-space"] == "shown"
    assert page.sections["codebook"] == "missing"
    text = (tmp_path / "r.html").read_text()
    assert "the 2-D code itself" in text and "t-SNE" not in text  # no projection for a 2-D code


def test_text_from_the_run_folder_is_escaped(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run("vae"), run)
    hostile = {"<script>alert(1)</script>": 1.5, "nll": "<img src=x onerror=alert(2)>"}
    (run / "eval-k5.json").write_text(json.dumps(hostile))
    out = build_report(run, limit=40, iw_samples=2)
    assert out == run / "report.html"
    text = out.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "&lt;img src=x onerror=alert(2)&gt;" in text
    read_page(out)  # still no script tag and no outside address


def test_bad_out_is_refused_and_nothing_is_written(tiny_run, tmp_path, capsys):
    run = tiny_run("vae")
    with pytest.raises(VaekitError, match="does not exist"):
        build_report(run, tmp_path / "no" / "such" / "report.html")
    assert main(["report", str(run), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["report", str(run), "--limit", "1"]) == 2
    assert not (run / "report.html").exists() and list(tmp_path.iterdir()) == []


def test_report_in_a_real_browser_loads_clean_with_every_figure(browser, digits_2d_run, tmp_path):
    out = build_report(digits_2d_run, tmp_path / "report.html", limit=200, iw_samples=10)
    console_errors(browser)
    browser.get(out.as_uri())
    figures = browser.execute_script(
        "return Array.from(document.querySelectorAll('figure img'))"
        ".map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    expected = len(read_page(out).images)
    assert expected >= 8 and len(figures) == expected
    assert all(done and w > 100 and h > 50 for done, w, h in figures)  # every picture decoded and drawn
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(r => r.name)")
    assert fetched == []  # nothing loaded from anywhere, not even from disk
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('section.shown h2')).map(h => h.textContent)"
    )
    assert {"The run", "Prior samples", "Reconstructions", "The decoded manifold", "KL per latent dimension"} <= set(
        shown
    )
    assert console_errors(browser) == []


class Tables(HTMLParser):
    """The sentence tables of a report: {section id: [(caption, header, rows)]}, text unescaped."""

    def __init__(self, text: str):
        super().__init__()
        self.found: dict[str, list] = {}
        self.section, self.cell, self.table = None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.section = attrs["id"]
        elif tag == "table" and attrs.get("class") == "sentences":
            self.table = ["", [], []]
            self.found.setdefault(self.section, []).append(self.table)
        elif self.table is not None and tag == "tr" and self.table[1]:
            self.table[2].append([])
        elif self.table is not None and tag in ("caption", "th", "td"):
            self.cell = tag
            if tag == "td":
                self.table[2][-1].append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None
        if tag in ("caption", "th", "td"):
            self.cell = None

    def handle_data(self, data):
        if self.table is None or self.cell is None:
            return
        if self.cell == "caption":
            self.table[0] += data
        elif self.cell == "th":
            self.table[1].append(data)
        else:
            self.table[2][-1][-1] += data


def test_report_of_a_text_run_shows_its_sentences(tiny_text_run, tmp_path):
    from vaekit.data import TextOptions, load_dataset
    from vaekit.generate.text import decode_texts, homotopy, reconstruct_sentences
    from vaekit.report.text import SAMPLES, STEPS

    run = tiny_text_run("vae")
    out = tmp_path / "report.html"
    assert main(["report", str(run), "--out", str(out), "--limit", "100", "--iw-samples", "3"]) == 0
    page = read_page(out)
    assert page.sections == dict.fromkeys(
        ["run", "curves", "samples", "reconstructions", "homotopies", "latent-space", "latent-use"], "shown"
    )
    assert len(page.images) == 3  # curves, the codes coloured by length, KL per latent
    text = out.read_text(encoding="utf-8")
    assert "perplexity per token" in text and "nats per sentence" in text
    tables = Tables(text).found
    (samples,) = tables["samples"]
    assert samples[1] == ["z", "greedy decode", "drawn at temperature 1", "drawn at temperature 0.7"]
    assert len(samples[2]) == SAMPLES and all(len(row) == 4 and all(row) for row in samples[2])  # no blank cell
    # the sentences shown are the model's: the test split read with the run's vocabulary, decoded greedily
    model, cfg = load_run(run)
    vocab = Vocabulary.load(run / "vocab.json")
    x = load_dataset(cfg.data.name, text=TextOptions.of_run(cfg.data, run)).test_x
    (recon,) = tables["reconstructions"]
    assert [row[0] for row in recon[2]] == decode_texts(vocab, x[:10])
    assert [row[1] for row in recon[2]] == [t or EMPTY for t in reconstruct_sentences(model, vocab, x[:10])]
    walks = tables["homotopies"]
    assert 1 <= len(walks) <= 3 and all(len(w[2]) == STEPS for w in walks)
    assert [row[0] for row in walks[0][2]] == [f"{i / (STEPS - 1):.2f}" for i in range(STEPS)]
    a, b = (int(n) for n in re.findall(r"test sentence (\d+)", walks[0][0]))
    path = homotopy(model, vocab, x[a - 1 : a], x[b - 1 : b], STEPS)
    assert [row[1] for row in walks[0][2]] == [t or EMPTY for t in path]


def test_report_of_a_language_model_says_it_has_no_code(browser, tiny_text_run, tmp_path):
    out = build_report(tiny_text_run("lm"), tmp_path / "lm.html", limit=50, iw_samples=1)
    page = read_page(out)
    shown = {key for key, kind in page.sections.items() if kind == "shown"}
    assert shown == {"run", "curves", "samples"}
    text = out.read_text(encoding="utf-8")
    assert text.count("Not shown for this run: a language model (lm) has no latent code z") == 4
    assert "its greedy decode is always the same sentence" in text
    (samples,) = Tables(text).found["samples"]
    assert len(samples[2]) == 8 and all(len(row) == 3 and row[1].strip() for row in samples[2])
    console_errors(browser)
    browser.get(out.as_uri())
    assert browser.execute_script("return document.querySelectorAll('table.sentences tr').length") == 9
    assert console_errors(browser) == []
