"""The report as one self-contained HTML file: sections of text, tables and PNG figures as data URIs.

Nothing in the page points elsewhere (no script, no stylesheet, no font, no link out), so it opens
offline and can be mailed as one file. Every piece of text that comes from a run (its config, a
dataset path, an error message) is escaped on the way in: the page never runs anything from a run
folder. There is no JavaScript at all.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from html import escape


@dataclass
class Figure:
    png: bytes
    caption: str
    alt: str = ""


@dataclass
class TextTable:
    """A table of words with column heads, e.g. sample sentences or a homotopy (one row per step)."""

    caption: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    """One part of the report: a title, a sentence saying what it shows, then tables and figures.

    `missing` says in words why the section does not apply to this run (then it has no content).
    """

    key: str  # the anchor, e.g. "samples"
    title: str
    intro: str = ""
    tables: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (caption, [(name, value)])
    folded: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # tables shown on a click
    figures: list[Figure] = field(default_factory=list)
    texts: list[TextTable] = field(default_factory=list)  # sentences, for text runs
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # shown first, marked: e.g. a collapsed code
    missing: str = ""


STYLE = """
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232b;
       background: #f5f7f9; }
header { background: #fff; border-bottom: 1px solid #d8dde3; padding: 16px 32px 10px; }
header h1 { margin: 0 0 2px; font-size: 22px; }
header p { margin: 2px 0; color: #5c6670; }
nav { margin-top: 8px; font-size: 13px; }
nav a { margin-right: 12px; color: #1f6feb; text-decoration: none; white-space: nowrap; }
nav a.missing { color: #9aa3ad; }
main { padding: 12px 32px 40px; max-width: 1200px; }
section { background: #fff; border: 1px solid #d8dde3; border-radius: 8px; padding: 12px 20px 16px; margin: 16px 0; }
section h2 { margin: 0 0 4px; font-size: 18px; }
section.missing { background: #fafbfc; }
section.missing h2 { color: #5c6670; }
p.intro { margin: 0 0 10px; color: #39424c; max-width: 900px; }
p.missing { margin: 0; color: #5c6670; font-style: italic; }
p.note { margin: 6px 0; font-size: 13px; color: #5c6670; }
p.warning { margin: 8px 0; padding: 8px 12px; background: #fff4e5; border-left: 4px solid #d9822b; }
.tables { display: flex; flex-wrap: wrap; gap: 12px 32px; align-items: flex-start; }
table { border-collapse: collapse; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
td, th { padding: 2px 12px 2px 0; border-bottom: 1px solid #eef1f4; text-align: left; vertical-align: top; }
td.value { font-family: ui-monospace, monospace; }
details { margin: 10px 0 4px; font-size: 13px; }
summary { cursor: pointer; color: #1f6feb; }
figure { margin: 10px 0 14px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eef1f4; }
figcaption { font-size: 13px; color: #5c6670; max-width: 900px; }
table.sentences { margin: 10px 0 14px; font-size: 14px; max-width: 100%; }
table.sentences caption { font-weight: 600; }
table.sentences th { font-size: 12px; color: #5c6670; font-weight: 600; border-bottom: 1px solid #d8dde3; }
table.sentences td { font-family: Georgia, "Times New Roman", serif; }
table.sentences td.step { font-family: ui-monospace, monospace; color: #5c6670; white-space: nowrap; }
"""


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render(title: str, subtitle: list[str], sections: list[Section]) -> str:
    """The whole page as a string."""
    nav = " ".join(
        f'<a href="#{escape(s.key)}" class="{"missing" if s.missing else "shown"}">{escape(s.title)}</a>'
        for s in sections
    )
    head = "".join(f"<p>{escape(line)}</p>" for line in subtitle)
    body = "\n".join(_section(s) for s in sections)
    return (
        f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<link rel="icon" href="data:,">\n<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n'
        f"<body>\n<header><h1>{escape(title)}</h1>{head}<nav>{nav}</nav></header>\n<main>\n{body}\n</main>\n"
        f"</body>\n</html>\n"
    )


def _section(s: Section) -> str:
    kind = "missing" if s.missing else "shown"
    parts = [f'<section id="{escape(s.key)}" class="{kind}">', f"<h2>{escape(s.title)}</h2>"]
    if s.missing:
        parts.append(f'<p class="missing">Not shown for this run: {escape(s.missing)}</p>')
        return "\n".join(parts + ["</section>"])
    if s.intro:
        parts.append(f'<p class="intro">{escape(s.intro)}</p>')
    parts += [f'<p class="warning">{escape(w)}</p>' for w in s.warnings]
    if s.tables:
        parts.append('<div class="tables">' + "".join(_table(c, rows) for c, rows in s.tables) + "</div>")
    for caption, rows in s.folded:
        parts.append(f"<details><summary>{escape(caption)}</summary>{_table('', rows)}</details>")
    parts += [f'<p class="note">{escape(note)}</p>' for note in s.notes]
    parts += [_text_table(t) for t in s.texts]
    for fig in s.figures:
        parts.append(
            f'<figure><img src="{data_uri(fig.png)}" alt="{escape(fig.alt or fig.caption)}">'
            f"<figcaption>{escape(fig.caption)}</figcaption></figure>"
        )
    return "\n".join(parts + ["</section>"])


EMPTY = "(empty: <eos> first)"  # how a sentence of no words is shown


def _text_table(t: TextTable) -> str:
    """Column heads, then rows; a first column that is a number (a step, t) is set apart."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in t.header)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"step" if j == 0 and _is_step(v) else "text"}">{escape(str(v) or EMPTY)}</td>'
            for j, v in enumerate(r)
        )
        + "</tr>"
        for r in t.rows
    )
    return f'<table class="sentences"><caption>{escape(t.caption)}</caption><tr>{head}</tr>{rows}</table>'


def _is_step(value) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _table(caption: str, rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f'<tr><th scope="row">{escape(str(k))}</th><td class="value">{escape(str(v))}</td></tr>' for k, v in rows
    )
    return f"<table>{f'<caption>{escape(caption)}</caption>' if caption else ''}{cells}</table>"
