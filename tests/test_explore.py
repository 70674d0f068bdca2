"""`vaekit explore`: the app for every model, its answers to bad requests, and a flood of them."""

from __future__ import annotations

import base64
import io
import json
import random
import warnings

import httpx
import matplotlib.image
import numpy as np
import pytest

from tests.browser import explorer_server
from vaekit.models import MODELS
from vaekit.train import load_run
from vaekit.web import Explorer, create_app
from vaekit.web.app import MAX_BODY_BYTES

IMAGE_MODELS = [name for name, spec in MODELS.items() if spec.build is not None]  # not text-only ones

with warnings.catch_warnings():  # Starlette's TestClient announces a move to httpx2; it is still the real app
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient


def open_explorer(run_dir) -> Explorer:
    from vaekit.data import load_dataset

    model, cfg = load_run(run_dir)
    data = load_dataset(cfg.data.name)
    return Explorer(model, cfg, data.test_x, data.test_y, title=run_dir.name)


def png_pixels(data_uri: str) -> np.ndarray:
    """The image behind a PNG data URI as an (H, W) array of grey levels in [0, 1]."""
    assert data_uri.startswith("data:image/png;base64,")
    pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1])), format="png")
    return pixels[..., 0] if pixels.ndim == 3 else pixels


@pytest.mark.parametrize("name", [*IMAGE_MODELS, "vqvae+prior"])
def test_every_model_decodes_samples_and_walks(name, tiny_run):
    run = tiny_run(name)
    explorer = open_explorer(run)
    client = TestClient(create_app(explorer))
    page = client.get("/")
    assert page.status_code == 200 and "<script src" not in page.text and '<link rel="stylesheet"' not in page.text
    info = client.get("/api/info").json()
    d = info["latent_dim"]
    # "most active first": by the KL each slider shows where q(z|x) has one, else by the variance of E[z|x]
    shown_use = [a["activity"] if a["kl"] is None else a["kl"] for a in info["axes"]]
    assert sorted(a["index"] for a in info["axes"]) == list(range(d)) and shown_use == sorted(shown_use, reverse=True)
    label = {"label": 1} if info["num_labels"] else {}
    mid = [0.5 * (a["low"] + a["high"]) for a in sorted(info["axes"], key=lambda a: a["index"])]
    shown = client.post("/api/decode", json={"z": mid, **label})
    assert shown.status_code == 200, shown.text
    _, h, w = info["image_shape"]
    assert png_pixels(shown.json()["png"]).shape[:2] == (h, w)
    sampled = client.post("/api/sample", json={"seed": 3, **label})
    if info["has_prior"]:
        assert sampled.status_code == 200 and len(sampled.json()["z"]) == d
    else:  # the AE, the VQ-VAE before train-prior: a 422 that says what to do
        error = sampled.json()["error"]
        assert sampled.status_code == 422 and ("--prior gmm" in error or "train-prior" in error)
    a = client.post("/api/encode", json={"index": 0, **label}).json()
    b = client.post("/api/encode", json={"index": 1, **label}).json()
    start = client.post("/api/interpolate", json={"a": 0, "b": 1, "t": 0.0, **label}).json()
    end = client.post("/api/interpolate", json={"a": 0, "b": 1, "t": 1.0, "path": "slerp", **label}).json()
    assert np.allclose(start["z"], a["z"], atol=1e-4) and np.allclose(end["z"], b["z"], atol=1e-3)


def test_sliders_are_the_model_decoding(digits_2d_run):
    """What the app returns is the model's decoder mean at z, pixel for pixel (8-bit PNG)."""
    import torch

    explorer = open_explorer(digits_2d_run)
    client = TestClient(create_app(explorer))
    info = client.get("/api/info").json()
    assert info["latent_dim"] == 2 and all(a["kl"] > 0.1 for a in info["axes"])  # both latents are in use
    model, _ = load_run(digits_2d_run)
    for z in ([0.0, 0.0], [1.5, -2.0]):
        got = png_pixels(client.post("/api/decode", json={"z": z}).json()["png"])
        want = model.decode(torch.tensor([z])).mean[0, 0].detach().numpy()
        assert np.abs(got - want).max() <= 0.5 / 255 + 1e-6
    points = client.get("/api/points", params={"x": 0, "y": 1}).json()
    assert len(points) == 200 and {p[2] for p in points} == set(range(10))


BAD_REQUESTS = [  # (method, path, body or raw bytes, status, words in the error)
    ("post", "/api/decode", {"z": [0.1]}, 422, "1 values but this model has 2"),
    ("post", "/api/decode", {"z": [0.1, 0.2, 0.3]}, 422, "3 values"),
    ("post", "/api/decode", {"z": [0.1, "0.2"]}, 422, "z.1: Input should be a valid number"),
    ("post", "/api/decode", {"z": [0.1, True]}, 422, "valid number"),
    ("post", "/api/decode", {"z": [0.1, None]}, 422, "valid number"),
    ("post", "/api/decode", b'{"z": [0.1, NaN]}', 422, "finite number"),
    ("post", "/api/decode", b'{"z": [0.1, 1e999]}', 422, "finite number"),
    ("post", "/api/decode", {"z": [0.1, 50.0]}, 422, "z[1] = 50 is out of range"),
    ("post", "/api/decode", {"z": [-1e300, 0.0]}, 422, "out of range"),
    ("post", "/api/decode", {"z": []}, 422, "at least 1"),
    ("post", "/api/decode", {"z": 0.5}, 422, "valid list"),
    ("post", "/api/decode", {"z": [0.1, 0.2], "label": 3}, 422, "not conditional"),
    ("post", "/api/decode", {"z": [0.1, 0.2], "extra": 1}, 422, "extra: Extra inputs are not permitted"),
    ("post", "/api/decode", {}, 422, "z: Field required"),
    ("post", "/api/decode", {"z": [0.0] * 20000}, 422, "at most 16384"),
    ("post", "/api/decode", b'{"z": [0.1, ', 422, "JSON decode error"),
    ("post", "/api/decode", b"[" * 50000 + b"]" * 50000, 400, "error parsing the body"),
    ("post", "/api/decode", b"x" * (MAX_BODY_BYTES + 1), 413, "too large"),
    ("post", "/api/sample", {"temperature": 0}, 422, "temperature: Input should be greater than or equal to 0.05"),
    ("post", "/api/sample", {"seed": -1}, 422, "seed"),
    ("post", "/api/encode", {"index": 10**9}, 422, "index"),
    ("post", "/api/encode", {"index": 999}, 422, "test image 999 is not offered"),
    ("post", "/api/interpolate", {"a": 0, "b": 1, "t": 1.5}, 422, "t: Input should be less than or equal to 1"),
    ("post", "/api/interpolate", {"a": 0, "b": 1, "t": 0.5, "path": "zigzag"}, 422, "path"),
    ("get", "/api/points?x=0&y=7", None, 422, "dimension 7 does not exist"),
    ("get", "/api/points?x=a&y=1", None, 422, "x: Input should be a valid integer"),
    ("get", "/api/decode", None, 405, "Method Not Allowed"),
    ("get", "/api/nothing-here", None, 404, "Not Found"),
]


@pytest.fixture(scope="module")
def client_2d(digits_2d_run):
    return TestClient(create_app(open_explorer(digits_2d_run)))


@pytest.mark.parametrize(
    "method, path, body, status, words", BAD_REQUESTS, ids=[f"{r[1]}-{i}" for i, r in enumerate(BAD_REQUESTS)]
)
def test_bad_requests_get_a_4xx_with_a_message(client_2d, method, path, body, status, words):
    if body is None:
        response = client_2d.request(method, path)
    elif isinstance(body, bytes):
        response = client_2d.request(method, path, content=body, headers={"content-type": "application/json"})
    else:
        response = client_2d.request(method, path, json=body)
    assert response.status_code == status, response.text[:300]
    error = response.json()["error"]
    assert words in error and "\n" not in error and len(error) < 300
    assert client_2d.post("/api/decode", json={"z": [0.1, 0.2]}).status_code == 200


def _malformed_requests(rng: random.Random, n: int):
    """n (method, path, kwargs) of every kind of bad request, drawn by a seeded generator."""
    paths = ["/api/decode", "/api/sample", "/api/encode", "/api/interpolate", "/api/points", "/", "/api/info"]
    as_json = {"content-type": "application/json"}
    junk = [None, True, "1", "", [], {}, -1, 2**70, 1e308, -1e308, [[0.1]], {"z": 1}, "\u0000" * 10]
    for i in range(n):
        kind = i % 10
        path = rng.choice(paths)
        if kind == 0:  # random bytes
            yield "POST", path, {"content": rng.randbytes(rng.randint(0, 3000)), "headers": as_json}
        elif kind == 1:  # a body over the limit, announced
            yield "POST", path, {"content": b"1," * (MAX_BODY_BYTES // 2 + rng.randint(1, 50000))}
        elif kind == 2:  # a body over the limit, streamed in chunks without a length
            size = MAX_BODY_BYTES + rng.randint(1, 100000)
            yield "POST", path, {"content": iter([b"[" + b"0.5," * (size // 4)]), "headers": as_json}
        elif kind == 3:  # wrong number of dims, huge lists
            count = rng.choice([0, 1, 3, 100, 16384, 16385])
            yield "POST", "/api/decode", {"json": {"z": [rng.uniform(-2, 2)] * count}}
        elif kind == 4:  # values of the wrong type
            fields = ("label", "t", "a", "index", "seed")
            body = {"z": [rng.choice(junk), 0.0], "b": 0, **{f: rng.choice(junk) for f in fields}}
            yield "POST", path, {"json": body}
        elif kind == 5:  # out of range numbers
            yield "POST", "/api/decode", {"json": {"z": [rng.choice([1e6, -1e6, 3.5, -4.0]), 0.0]}}
        elif kind == 6:  # deep nesting
            depth = rng.randint(100, 20000)
            yield "POST", path, {"content": b"[" * depth + b"]" * depth, "headers": as_json}
        elif kind == 7:  # junk query strings
            x = rng.choice(["-1", "1e9", "nan", "0x1", "", "99999999999999999999"])
            yield "GET", "/api/points", {"params": {"x": x, "y": "1"}}
        elif kind == 8:  # wrong methods and paths
            yield rng.choice(["PUT", "DELETE", "PATCH", "GET"]), rng.choice(paths[:4] + ["/api/" + "a" * 2000]), {}
        else:  # strings where numbers belong, unicode, NaN spelled out
            body = rng.choice(
                [
                    b'{"a":0,"b":1,"t":NaN}',
                    b'{"a":0,"b":1,"t":"0.5"}',
                    '{"a":"\u00e9","b":1,"t":0}'.encode(),
                    b'{"a":0,"b":1}',
                ]
            )
            yield "POST", "/api/interpolate", {"content": body, "headers": as_json}


def test_explorer_survives_hundreds_of_malformed_and_oversized_requests(digits_2d_run, tmp_path):
    """A real server on a free loopback port: 300 bad requests each get a 4xx, never a 5xx or a
    dropped connection, and a good request afterwards decodes exactly what it decoded before."""
    good = {"z": [0.7, -1.2]}
    server = explorer_server(digits_2d_run, tmp_path / "server.log")
    with server as url, httpx.Client(base_url=url, timeout=30) as client:
        before = client.post("/api/decode", json=good).json()["png"]
        statuses = []
        for method, path, kwargs in _malformed_requests(random.Random(0), 300):
            response = client.request(method, path, **kwargs)
            statuses.append(response.status_code)
            if response.status_code >= 400:
                assert "error" in response.json()
        after = client.post("/api/decode", json=good)
    served = [s for s in statuses if s < 400]  # GET / and /api/info with junk are fine to answer
    assert all(400 <= s < 500 for s in statuses if s >= 400), sorted(set(statuses))
    assert len(served) < 60 and statuses.count(413) >= 60 and statuses.count(422) >= 60
    assert after.status_code == 200 and after.json()["png"] == before
    assert json.dumps(after.json()["z"]) == json.dumps(good["z"])


def test_a_slow_request_does_not_stall_the_page(digits_2d_run, tmp_path):
    """Two clients that stop half-way (one inside its headers, one inside a decode's body) hold
    their connections open; meanwhile the page and a decode answer at once, and the slow ones
    have been answered nothing."""
    import socket
    import time
    from urllib.parse import urlparse

    with explorer_server(digits_2d_run, tmp_path / "server.log") as url:
        where = urlparse(url)
        slow = [socket.create_connection((where.hostname, where.port), timeout=30) for _ in range(2)]
        try:
            slow[0].sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAcc")
            head = b"POST /api/decode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            slow[1].sendall(head + b'Content-Length: 40\r\n\r\n{"z": [0.5, ')
            with httpx.Client(base_url=url, timeout=30) as client:
                began = time.perf_counter()
                page = client.get("/")
                decoded = client.post("/api/decode", json={"z": [0.5, 0.5]})
                seconds = time.perf_counter() - began
            assert page.status_code == 200 and "<html" in page.text.lower() and decoded.status_code == 200
            assert seconds < 10, f"the page and a decode took {seconds:.1f} s beside two slow clients"
            for sock in slow:
                sock.setblocking(False)
                with pytest.raises(BlockingIOError):
                    sock.recv(1)  # nothing answered to a request that has not arrived
            slow[1].setblocking(True)
            slow[1].sendall(b"0.5]}" + b" " * 23)  # the rest of its 40 bytes: now it is answered
            assert slow[1].recv(12).startswith(b"HTTP/1.1 200")
        finally:
            for sock in slow:
                sock.close()


def open_text_explorer(run_dir) -> Explorer:
    from vaekit.data import TextOptions, load_dataset
    from vaekit.data.vocab import Vocabulary

    model, cfg = load_run(run_dir)
    data = load_dataset(cfg.data.name, text=TextOptions.of_run(cfg.data, run_dir))
    vocab = Vocabulary.load(run_dir / "vocab.json")
    return Explorer(model, cfg, data.test_x, data.test_y, title=run_dir.name, vocab=vocab)


def test_a_text_run_decodes_codes_into_sentences(tiny_text_run):
    import torch

    from vaekit.generate.text import decode_texts

    explorer = open_text_explorer(tiny_text_run("vae"))
    client = TestClient(create_app(explorer))
    info = client.get("/api/info").json()
    assert info["text"] and info["image_shape"] == [] and info["latent_dim"] == 4
    picks = client.get("/api/picks").json()
    assert [p["text"] for p in picks] == decode_texts(explorer.vocab, explorer.pick_x)
    model = explorer.model
    for z in ([0.0, 0.0, 0.0, 0.0], [2.5, -1.0, 0.5, -2.0]):
        shown = client.post("/api/decode", json={"z": z}).json()
        greedy = model.decode(torch.tensor([z])).greedy()[0].tolist()  # the model's own greedy decode of z
        assert "png" not in shown and shown["text"] == explorer.vocab.decode(greedy)
    a = client.post("/api/encode", json={"index": 0}).json()
    start = client.post("/api/interpolate", json={"a": 0, "b": 1, "t": 0.0}).json()
    assert start["text"] == a["text"] and np.allclose(start["z"], a["z"], atol=1e-4)
    assert client.post("/api/sample", json={"seed": 2, "temperature": 0.5}).json()["text"] is not None
    wrong = client.post("/api/decode", json={"z": [0.0, 0.0]})
    assert wrong.status_code == 422 and "4 latent dimensions" in wrong.json()["error"]
    assert client.post("/api/decode", json={"z": [0.0] * 4}).status_code == 200  # still answers


def test_a_language_model_is_refused_in_one_line(tiny_text_run, capsys):
    from tests.browser import free_port
    from vaekit.cli import main

    run = tiny_text_run("lm")
    capsys.readouterr()
    assert main(["explore", str(run), "--port", str(free_port())]) == 2  # refused before serving
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a language model (lm) has no latent code z to explore" in err
