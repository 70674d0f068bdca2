"""`vaekit report`: one self-contained HTML page about a trained run.

context.py   loads the run, its test images and its curves (ReportContext)
summary.py   the configuration, the training record and test measures; the training curves
quality.py   sample quality: the Fréchet distance and classifier score of prior samples (MNIST, Fashion)
sections.py  the pictures: samples, reconstructions, interpolations, traversals, the latent
             space, the decoded manifold, KL per latent, codebook usage
text.py      a text run's sentences: samples, reconstructions, homotopies, codes by sentence length
translation.py  a translation run: BLEU and chrF, test translations, attention maps, BLEU by length
figures.py   the figures only the report draws (bars of latent use and code use, the manifold)
html.py      the page: escaped text, PNGs as data URIs, no script and no link out
"""

from __future__ import annotations

import datetime
from pathlib import Path

from vaekit.report.html import Section, render


def build_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    which: str = "best",
    device: str = "auto",
    data_dir=None,
    seed: int = 0,
    progress=None,
    **counts: int,
) -> Path:
    """Writes the HTML report of a run (default RUN_DIR/report.html) atomically; returns its path.

    counts: the fields of `ReportCounts` (vaekit/report/counts.py), each defaulting there: limit (test
    images used for codes and measures), iw_samples (importance samples K for -log p(x)) and
    fid_samples (prior samples for the Fréchet distance of MNIST and Fashion-MNIST runs; 0: not measured).
    progress(name, parts) is called after each section (of `parts` in all), e.g. to update a progress bar.
    """
    from vaekit import __version__
    from vaekit.config import RunConfig
    from vaekit.errors import VaekitError
    from vaekit.io import atomic_write_text
    from vaekit.report.context import open_context
    from vaekit.report.counts import ReportCounts
    from vaekit.report.sections import SECTIONS_BY_KIND
    from vaekit.report.summary import curves_section, run_section

    counts = ReportCounts(**counts)  # refuses an unknown name or a count out of its limits
    run_dir = Path(run_dir)
    out = _output_path(run_dir, out)
    if RunConfig.load(run_dir / "config.json").source_vocab_size if (run_dir / "config.json").is_file() else False:
        from vaekit.report.translation import translation_sections

        limit = counts.limit
        run, sections = translation_sections(run_dir, which, device, data_dir, limit, seed)
        subtitle = [f"run folder {run_dir.resolve()} ({which} checkpoint), up to {limit} test source sentences"]
        atomic_write_text(out, render(f"vaekit report: {run}", subtitle, sections))
        return out
    ctx = open_context(run_dir, counts, which, device, data_dir, seed)
    sections: list[Section] = []
    kind = ctx.model.data_kind
    if kind not in SECTIONS_BY_KIND:
        raise VaekitError(f"the report does not know runs on {kind} yet")
    parts = [run_section, curves_section, *SECTIONS_BY_KIND[kind]]
    for make in parts:
        section = make(ctx)
        if progress is not None:
            progress(make.__name__.removesuffix("_section"), len(parts))
        if section is not None:
            sections.append(section)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = [
        f"run folder {run_dir.resolve()} ({which} checkpoint), {ctx.x.shape[0]} test {ctx.item}s",
        f"written {now} by vaekit {__version__}; every picture is embedded, the page works offline",
    ]
    atomic_write_text(out, render(f"vaekit report: {ctx.run}", subtitle, sections))
    return out


def _output_path(run_dir: Path, out: str | Path | None) -> Path:
    """Where the page goes (default RUN_DIR/report.html), refused in one line when it cannot go there."""
    from vaekit.errors import VaekitError

    out = Path(out) if out is not None else run_dir / "report.html"
    if out.is_dir():
        raise VaekitError(f"--out {out} is a folder: give a file name such as {out / 'report.html'}")
    if not out.parent.is_dir():
        raise VaekitError(f"the folder of --out {out} does not exist: create it or choose another --out")
    return out


__all__ = ["build_report"]
