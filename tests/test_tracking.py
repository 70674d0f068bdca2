"""`vaekit train --log tensorboard --log mlflow`: read back from the real event files and MLflow store.

One tiny run (digits, 2 epochs) is trained with both trackers, resumed for a third epoch and
evaluated; the tests read what it left with TensorBoard's own event reader and MLflow's client,
and open the TensorBoard server in a headless browser.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from vaekit.cli import main

pytest.importorskip("mlflow", reason="the tracking extra is not installed: pip install vaekit[tracking]")
pytest.importorskip("tensorboard", reason="the tracking extra is not installed: pip install vaekit[tracking]")

TINY = ["--hidden", "32", "--latent-dim", "4", "--log-every", "5", "--log-pictures-every", "1", "--quiet"]
STEP_TERMS = {"loss", "elbo", "recon", "kl"}
EPOCH_TAGS = {f"{split}/{t}" for split in ("train", "val") for t in STEP_TERMS} | {
    "val/active_units",
    "lr",
    "speed/epoch_seconds",
    "speed/examples_per_s",
}
EVAL_TAGS = {"eval/test/nll", "eval/test/elbo", "eval/test/kl", "eval/test/active_units"}
IMAGES = {"pictures/samples", "pictures/reconstructions", "final/samples", "final/reconstructions"}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> dict:
    """A run trained 2 epochs with both trackers, resumed to 3, then evaluated; the MLflow run id after
    each step. MLflow's default store: runs/mlflow.db beside the run."""
    runs = tmp_path_factory.mktemp("tracked") / "runs"
    run = runs / "vae"
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        env.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        train = ["--threads", "1", "train", "vae", "--data", "digits", "--out", str(run), *TINY]
        assert main([*train, "--epochs", "2", "--log", "tensorboard", "--log", "mlflow"]) == 0
        first = json.loads((run / "mlflow.json").read_text())["run_id"]
        resume = ["--threads", "1", "train", "vae", "--out", str(run), "--epochs", "3", "--resume", "--quiet"]
        assert main(resume) == 0  # the trackers come from config.json
        resumed = json.loads((run / "mlflow.json").read_text())["run_id"]
        assert main(["--threads", "1", "eval", str(run), "--iw-samples", "10", "--fid-samples", "0"]) == 0
    return {"run": run, "runs": runs, "ids": (first, resumed)}


def _events(run: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    return events


def test_config_records_the_trackers(tracked):
    assert json.loads((tracked["run"] / "config.json").read_text())["train"]["log"] == ["tensorboard", "mlflow"]


def test_tensorboard_holds_every_scalar_and_image_once_per_step(tracked):
    events = _events(tracked["run"])
    tags = events.Tags()
    step_tags = {f"step/{t}" for t in STEP_TERMS}
    assert step_tags | EPOCH_TAGS | EVAL_TAGS <= set(tags["scalars"])
    assert IMAGES <= set(tags["images"]) and "settings/text_summary" in tags["tensors"]
    for tag in EPOCH_TAGS:  # epochs 1-2 from the first invocation, 3 from the resumed one: each once
        assert [e.step for e in events.Scalars(tag)] == [1, 2, 3], tag
    assert [e.step for e in events.Scalars("eval/test/nll")] == [3]
    steps = [e.step for e in events.Scalars("step/loss")]  # 13 steps per epoch (1,397 // 100), logged every 5
    assert steps == sorted(set(steps)) and steps[:4] == [5, 10, 13, 18] and steps[-1] == 3 * 13
    assert all(np.isfinite(e.value) for e in events.Scalars("step/kl"))
    assert [e.step for e in events.Images("pictures/samples")] == [1, 2, 3]
    picture = Image.open(io.BytesIO(events.Images("final/samples")[-1].encoded_image_string))
    assert picture.width > 300 and picture.height > 300  # the titled figure, not an 8x8 grid
    assert events.PluginTagToContent("hparams")  # the settings in the HParams tab


def test_mlflow_run_holds_params_metrics_and_the_run_folder(tracked):
    from mlflow.tracking import MlflowClient

    run, runs = tracked["run"], tracked["runs"]
    record = json.loads((run / "mlflow.json").read_text())
    assert record["tracking_uri"] == f"sqlite:///{runs.resolve() / 'mlflow.db'}"
    client = MlflowClient(record["tracking_uri"])
    experiment = client.get_experiment_by_name("vaekit")
    found = client.search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in found] == [record["run_id"]]  # the resumed run went on in the same one
    data = found[0].data
    assert found[0].info.status == "FINISHED" and found[0].info.run_name == "vae"
    assert data.params["train.lr"] == "0.001" and data.params["model.hidden"] == "32"
    assert data.params["train.epochs"] == "2" and data.tags["resumed.train.epochs"] == "3"
    assert {f"step/{t}" for t in STEP_TERMS} | EPOCH_TAGS | EVAL_TAGS <= set(data.metrics)
    assert [m.step for m in client.get_metric_history(record["run_id"], "val/loss")] == [1, 2, 3]
    top = {a.path for a in client.list_artifacts(record["run_id"])}
    assert {"config.json", "metrics.json", "model.safetensors", "samples.png", "tensorboard", "images"} <= top
    assert any(name.startswith("eval-test-best") for name in top)
    pictures = {a.path.split("/")[1].split("+")[0] for a in client.list_artifacts(record["run_id"], "images")}
    assert {name.replace("/", "~") for name in IMAGES} <= pictures
    assert (runs / "mlartifacts").is_dir()


def test_a_resumed_run_appends_to_the_same_tensorboard_folder_and_mlflow_run(tracked):
    first, resumed = tracked["ids"]
    assert first == resumed
    folder = tracked["run"] / "tensorboard"
    assert len(list(folder.glob("events.out.tfevents.*"))) == 3  # train, resumed train, eval: one run
    assert not [p for p in folder.iterdir() if p.is_dir()]


@pytest.mark.parametrize("blocked, tracker", [("mlflow", "mlflow"), ("tensorboard", "tensorboard")])
def test_a_missing_tracker_package_is_one_line_and_writes_nothing(blocked, tracker, tmp_path):
    """The package is blocked in a fresh interpreter (as if not installed); nothing of vaekit is faked."""
    out = tmp_path / "run"
    code = (
        f"import sys; sys.modules[{blocked!r}] = None; from vaekit.cli import main; "
        f"sys.exit(main(['train', 'vae', '--epochs', '1', '--quiet', '--log', {tracker!r}, '--out', {str(out)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install vaekit[tracking]" in lines[0] and f"--log {tracker}" in lines[0]
    assert not out.exists()


def test_no_tracker_is_imported_unless_asked(tmp_path):
    out = tmp_path / "run"
    code = (
        "import sys; from vaekit.cli import main; "
        f"assert main(['--threads', '1', 'train', 'vae', '--epochs', '1', '--quiet', '--hidden', '16', "
        f"'--out', {str(out)!r}]) == 0; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'tensorboard')"
        " or m.startswith('torch.utils.tensorboard')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_flag_takes_both_trackers_and_refuses_others(capsys, tmp_path):
    from vaekit.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["train", "vae", "--log", "tensorboard", "--log", "mlflow"]).log == ("tensorboard", "mlflow")
    assert parse(["train", "vae", "--log", "mlflow,tensorboard,mlflow"]).log == ("mlflow", "tensorboard")
    assert main(["train", "vae", "--log", "wandb", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "--log" in err and "tensorboard or mlflow" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    """Every 200th pair of the real English-French file (380 pairs)."""
    from tests.conftest import shared_data_dir

    source = (shared_data_dir() or Path("missing")) / "fra-eng" / "fra.txt"
    if not source.is_file():
        pytest.skip("fra-eng pairs not found: set VAEKIT_DATA_DIR to the shared/data folder")
    path = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    path.write_text("\n".join(source.read_text(encoding="utf-8").splitlines()[::200]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("model, words", [("vae", "**samples**"), ("seq2seq", "| source | translation")])
def test_text_runs_send_sentences_and_translation_runs_translations(model, words, request, tmp_path, monkeypatch):
    """A text run's sentences (and a translation run's translations) as TensorBoard text; the text run
    also goes to the MLflow store and experiment that MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_NAME name."""
    from tests.conftest import TINY_TEXT

    data = request.getfixturevalue("ptb_slice_file" if model == "vae" else "pairs_file")
    run = tmp_path / model
    trackers = "tensorboard,mlflow" if model == "vae" else "tensorboard"
    store = f"sqlite:///{tmp_path / 'elsewhere' / 'store.db'}"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)  # MLflow puts a named store's artifacts in ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "sentences")
    flags = ["--data", str(data), "--epochs", "1", "--log", trackers, "--log-pictures-every", "1", *TINY_TEXT]
    assert main(["--threads", "1", "train", model, *flags, "--out", str(run)]) == 0
    events = _events(run)
    assert {"text/sentences/text_summary", "final/sentences/text_summary"} <= set(events.Tags()["tensors"])
    text = events.Tensors("final/sentences/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert words in text and len(text.splitlines()) >= 8
    if model == "vae":
        from mlflow.tracking import MlflowClient

        record = json.loads((run / "mlflow.json").read_text())
        assert record["tracking_uri"] == store and not (tmp_path / "mlflow.db").exists()
        client = MlflowClient(store)
        assert client.get_run(record["run_id"]).info.experiment_id == (
            client.get_experiment_by_name("sentences").experiment_id
        )
        shown = {a.path for a in client.list_artifacts(record["run_id"], "text/sentences")}
        assert shown == {"text/sentences/epoch-00001.md"}


def test_tensorboard_serves_the_run_and_the_browser_shows_its_curves(tracked, browser, tmp_path):
    """`tensorboard --logdir` on a free loopback port, opened in headless Chromium: the run's tags are listed."""
    from tests.browser import free_port, stop

    port = free_port()
    runs = tracked["runs"]  # the folder of runs, as one would compare them: this run is vae/tensorboard
    cmd = [sys.executable, "-m", "tensorboard.main", "--logdir", str(runs), "--host", "127.0.0.1"]
    with open(tmp_path / "tensorboard.log", "w") as log:
        server = subprocess.Popen([*cmd, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "tensorboard.log").read_text()[-2000:]
            try:
                if "val/loss" in httpx.get(f"{url}/data/plugin/scalars/tags", timeout=2).text:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "tensorboard did not list the run's tags within 120 s"
            time.sleep(0.5)
        last = _events(tracked["run"]).Scalars("val/loss")[-1].value
        shown = f"{last:.4f}".rstrip("0").rstrip(".")  # the card's table: the run's last value, 4 decimals
        browser.get(f"{url}/?tagFilter=val%2Floss#timeseries")
        deadline = time.monotonic() + 90
        while True:
            page = browser.find_element("tag name", "body").text.replace("\n/", "/")  # the title is 'val' + '/loss'
            if "val/loss" in page and "vae/tensorboard" in page and shown in page:
                break
            assert time.monotonic() < deadline, f"the page did not show the val/loss card with {shown}: {page[:500]}"
            time.sleep(0.5)
    finally:
        stop(server)
