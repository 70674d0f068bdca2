"""The tokenizer (`vaekit.data.tokenize`): NFC, apostrophes and accents kept, punctuation split as an
option, a detokenizer for display, and its options round-tripped through a run's config."""

from __future__ import annotations

import doctest
import json
import unicodedata

import pytest

from vaekit.data import tokenize
from vaekit.data.tokenize import Tokenizer
from vaekit.errors import VaekitError

from .conftest import shared_data_dir


def test_docstring_examples_hold():
    assert doctest.testmod(tokenize).failed == 0


def test_defaults_split_on_whitespace_only():
    assert Tokenizer().tokens("They are watching.") == ["They", "are", "watching."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("They are watching.", ["they", "are", "watching", "."]),
        ("Ils regardent\u202f!", ["ils", "regardent", "!"]),  # French narrow no-break space before "!"
        ("I'm sure it's Tom's.", ["i'm", "sure", "it's", "tom's", "."]),
        ("Je l’ai vu.", ["je", "l'ai", "vu", "."]),  # typographic apostrophe made plain, kept in the word
        ("Peut-être aujourd'hui ?", ["peut-être", "aujourd'hui", "?"]),
        ("Il a 3,5 ans... « Oui » !", ["il", "a", "3,5", "ans", "...", "«", "oui", "»", "!"]),
        (
            'He said "no", then (sadly) left.',
            ["he", "said", '"', "no", '"', ",", "then", "(", "sadly", ")", "left", "."],
        ),
    ],
)
def test_punctuation_split_keeps_apostrophes_hyphens_and_accents(text, expected):
    assert Tokenizer(lower=True, split_punct=True).tokens(text) == expected


def test_nfc_makes_combining_accents_and_precomposed_letters_one_token():
    decomposed = unicodedata.normalize("NFD", "Été")
    assert decomposed != "Été"
    tok = Tokenizer(lower=True)
    assert tok.tokens(decomposed) == tok.tokens("Été") == ["été"]


def test_lower_is_an_option():
    assert Tokenizer(split_punct=True).tokens("Go!") == ["Go", "!"]
    assert Tokenizer(lower=True).tokens("Go!") == ["go!"]


@pytest.mark.parametrize(
    ("tokens", "english", "french"),
    [
        (["they", "are", "watching", "."], "they are watching.", "they are watching."),
        (["ils", "regardent", "!"], "ils regardent!", "ils regardent !"),
        (["«", "oui", "»", ",", "dit-il", "."], "«oui», dit-il.", "« oui », dit-il."),
        (["he", "said", '"', "no", '"', "."], 'he said "no".', 'he said "no".'),
    ],
)
def test_detokenize_for_display(tokens, english, french):
    tok = Tokenizer(lower=True, split_punct=True)
    assert tok.detokenize(tokens) == english
    assert tok.detokenize(tokens, french=True) == french
    assert tok.tokens(tok.detokenize(tokens, french=True)) == tokens  # nothing lost for a French reader


def test_options_round_trip_through_json_and_refuse_unknown_keys():
    tok = Tokenizer(lower=True, split_punct=True)
    assert Tokenizer.from_dict(json.loads(json.dumps(tok.to_dict()))) == tok
    with pytest.raises(VaekitError, match="unknown tokenizer option"):
        Tokenizer.from_dict({"lower": True, "stem": True})
    with pytest.raises(VaekitError, match="true or false"):
        Tokenizer.from_dict({"lower": "yes"})


def test_on_the_real_pairs_every_token_is_a_word_number_or_one_mark():
    folder = shared_data_dir()
    path = None if folder is None else folder / "fra-eng" / "fra.txt"
    if path is None or not path.is_file():
        pytest.skip("fra-eng pairs not found: set VAEKIT_DATA_DIR to the shared/data folder")
    tok = Tokenizer(lower=True, split_punct=True)
    lines = path.read_text(encoding="utf-8").splitlines()[::25]  # about 3,000 pairs
    for line in lines:
        for side in line.split("\t"):
            tokens = tok.tokens(side)
            assert tokens, line
            assert all(t == t.strip() and t.lower() == t for t in tokens)
            # the text is all there: only spaces were dropped
            assert "".join(tokens) == "".join(tok.normalize(side).split())
    assert tok.tokens("They are watching.\tIls regardent.".split("\t")[1]) == ["ils", "regardent", "."]
