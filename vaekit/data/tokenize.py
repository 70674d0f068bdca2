"""Text as a person would split it: Unicode NFC, optional lower-casing and punctuation splitting.

>>> tok = Tokenizer(lower=True, split_punct=True)
>>> tok.tokens("Ils regardent\u202f!  C’est l’été.")
['ils', 'regardent', '!', "c'est", "l'été", '.']
>>> tok.detokenize(["ils", "regardent", "!"], french=True)
'ils regardent !'
>>> Tokenizer.from_dict(tok.to_dict()) == tok
True

What it always does, whatever the options:

- Unicode NFC, so an accent typed as a combining mark and the precomposed letter are one token;
- the typographic apostrophes ’ (U+2019) and ʼ (U+02BC) become ', so "l’ai" and "l'ai" agree;
- every kind of space (no-break, narrow no-break before French "!", thin, tabs) separates tokens.

Apostrophes and hyphens inside a word stay in it ("don't", "c'est", "aujourd'hui", "peut-être"),
accents are kept. With ``split_punct`` every other punctuation mark is a token of its own
("Go." -> "Go", "."), except inside numbers ("3.5", "1,000") and an ellipsis ("...") which stay
whole; without it tokens are what whitespace separates. ``lower`` lower-cases (``str.lower``).

`detokenize` joins tokens back for display: no space before closing punctuation, none after
opening brackets and quotes; with ``french=True`` the space French typography puts before
"! ? : ;" and inside « » is kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from vaekit.errors import VaekitError

_APOSTROPHES = ("\u2019", "\u02bc")
_TOKEN = re.compile(
    r"\d+(?:[.,:]\d+)+"  # a number with separators: 3.5, 1,000, 12:30
    r"|\w+(?:['\-\u2010]\w+)*"  # a word with inner apostrophes or hyphens: don't, peut-être
    r"|\.{2,}|…"  # an ellipsis
    r"|[^\w\s]"  # any other mark, one character a token
)
_NO_SPACE_BEFORE = frozenset(".,)]}%…'") | {"...", "»", "!", "?", ":", ";"}
_NO_SPACE_AFTER = frozenset("([{«")
_FRENCH_SPACED = frozenset({"!", "?", ":", ";", "»"})


@dataclass(frozen=True)
class Tokenizer:
    """Splits a line of text into tokens; the options are saved with a run (`to_dict`)."""

    lower: bool = False
    split_punct: bool = False

    def normalize(self, text: str) -> str:
        """NFC, typographic apostrophes made plain, lower-cased if asked."""
        text = unicodedata.normalize("NFC", text)
        for mark in _APOSTROPHES:
            if mark in text:  # str.translate would be ten times slower on 150,000 lines
                text = text.replace(mark, "'")
        return text.lower() if self.lower else text

    def tokens(self, text: str) -> list[str]:
        """The tokens of one line."""
        text = self.normalize(text)
        return _TOKEN.findall(text) if self.split_punct else text.split()

    def detokenize(self, tokens: Sequence[str], *, french: bool = False) -> str:
        """Tokens joined for reading (see the module docstring); the inverse of `tokens` up to spacing."""
        out: list[str] = []
        glue, quotes = True, 0  # glue: no space before the first token, nor after an opening mark
        for token in tokens:
            closing_quote = token == '"' and quotes % 2 == 1
            attach = token in _NO_SPACE_BEFORE or closing_quote
            if out and not glue and (not attach or (french and token in _FRENCH_SPACED)):
                out.append(" ")
            out.append(token)
            quotes += token == '"'
            glue = (token in _NO_SPACE_AFTER and not (french and token == "«")) or (token == '"' and not closing_quote)
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Tokenizer:
        """The tokenizer a saved dict describes; unknown keys or non-boolean values are errors."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise VaekitError(f"unknown tokenizer option(s) {', '.join(unknown)}: known are {', '.join(sorted(known))}")
        wrong = [k for k, v in raw.items() if not isinstance(v, bool)]
        if wrong:
            raise VaekitError(f"tokenizer option(s) {', '.join(wrong)} must be true or false")
        return cls(**raw)

    def describe(self) -> str:
        """A few words for logs and reports, e.g. 'NFC, lower-cased, punctuation split'."""
        parts = ["NFC"]
        parts += ["lower-cased"] if self.lower else []
        parts += ["punctuation split"] if self.split_punct else ["whitespace split"]
        return ", ".join(parts)


__all__ = ["Tokenizer"]
