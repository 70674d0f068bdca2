"""`vaekit report`: one self-contained, escaped HTML page for every model of the registry."""

from __future__ import annotations

import base64
import json
import shutil
from html.parser import HTMLParser

import pytest

from tests.browser import console_errors, free_port
from vaekit.cli import main
from vaekit.errors import VaekitError
from vaekit.models import MODELS
from vaekit.models.run import load_run
from vaekit.report import build_report

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
    if name in ("cvae", "vqvae", "vqvae+prior"):
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


def test_a_text_run_is_refused_in_one_line_by_report_and_explore(tmp_path, capsys):
    words = "the a cat dog sat ran on under mat log".split()
    lines = [" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(3 + i % 5)) for i in range(200)]
    (tmp_path / "s.txt").write_text("\n".join(lines) + "\n")
    run = tmp_path / "text-run"
    assert (
        main(
            [
                "train",
                "vae",
                "--data",
                str(tmp_path / "s.txt"),
                "--epochs",
                "1",
                "--hidden",
                "16",
                "--latent-dim",
                "2",
                "--quiet",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["report", str(run)]) == 2
    assert "trained on text" in capsys.readouterr().err and not (run / "report.html").exists()
    assert main(["explore", str(run), "--port", str(free_port())]) == 2  # refused before it serves
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a text run's sentences are printed by 'vaekit sample RUN'" in err
