"""A run's curves, pictures, settings and files in an MLflow run (mlflow-skinny's MlflowClient, no server).

The store is the one `MLFLOW_TRACKING_URI` names, else a SQLite file beside the run folder,
RUN/../mlflow.db, with the artifacts in RUN/../mlartifacts/ (runs written into one folder share a
store: `mlflow server --backend-store-uri sqlite:///runs/mlflow.db` compares them). The experiment is
`MLFLOW_EXPERIMENT_NAME`, else "vaekit"; the MLflow run is named after the run folder. RUN/mlflow.json
records the store and the run id, so a resumed run and `vaekit eval` add to the same MLflow run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from vaekit.errors import VaekitError
from vaekit.io import atomic_write_text

RECORD = "mlflow.json"
EXPERIMENT = "vaekit"
SKIPPED = (".vaekit-lock",)  # the run's lock file (vaekit.train.lock) is no artifact


def default_store(run_dir: Path) -> str:
    """$MLFLOW_TRACKING_URI, else sqlite:///RUN/../mlflow.db."""
    return os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///" + str(Path(run_dir).resolve().parent / "mlflow.db")


class MlflowTracker:
    name = "mlflow"

    def __init__(self, run_dir: Path, resumed: bool):
        from mlflow.tracking import MlflowClient

        self.run_dir = Path(run_dir)
        record = self.run_dir / RECORD
        known = json.loads(record.read_text()) if resumed and record.is_file() else None
        uri = known["tracking_uri"] if known else default_store(self.run_dir)
        try:
            self.client = MlflowClient(tracking_uri=uri)
            if known:
                self.run_id = known["run_id"]
                self.client.update_run(self.run_id, status="RUNNING")
            else:
                self.run_id = self._new_run(uri)
        except Exception as err:  # MLflow's own errors: a store it cannot open, a run it cannot find
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise VaekitError(f"MLflow store {uri}: {first} (set MLFLOW_TRACKING_URI to a store you can use)") from None
        if not known:
            atomic_write_text(record, json.dumps({"tracking_uri": uri, "run_id": self.run_id}, indent=2) + "\n")

    def _new_run(self, uri: str) -> str:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        elif uri.startswith("sqlite:///") and "MLFLOW_TRACKING_URI" not in os.environ:  # artifacts beside the store
            where = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
            experiment_id = self.client.create_experiment(name, artifact_location=where)
        else:
            experiment_id = self.client.create_experiment(name)
        tags = {"vaekit.run_dir": str(self.run_dir.resolve())}
        return self.client.create_run(experiment_id, run_name=self.run_dir.name, tags=tags).info.run_id

    def scalars(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, step) for k, v in values.items()])

    def image(self, tag: str, picture: np.ndarray, step: int) -> None:
        self.client.log_image(self.run_id, picture, key=tag, step=step)

    def text(self, tag: str, text: str, step: int) -> None:
        self.client.log_text(self.run_id, text, f"{tag}/epoch-{step:05d}.md")

    def settings(self, params: dict[str, float | int | str | bool], metrics: list[str]) -> None:
        """The settings as parameters. MLflow never changes a parameter: one that a resumed run changed
        (--epochs) is kept, and its new value is set as the tag 'resumed.<name>'."""
        from mlflow.entities import Param

        old = self.client.get_run(self.run_id).data.params
        new = [Param(k, str(v)) for k, v in params.items() if k not in old]
        for start in range(0, len(new), 100):  # MLflow's limit per batch
            self.client.log_batch(self.run_id, params=new[start : start + 100])
        for k, v in params.items():
            if k in old and old[k] != str(v):
                self.client.set_tag(self.run_id, f"resumed.{k}", str(v))

    def files(self, run_dir: Path) -> None:
        """Every file of the run folder as an artifact, at its place in the folder (again: the newest)."""
        run_dir = Path(run_dir)
        for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
            if path.name in SKIPPED or path.name.endswith(".tmp"):
                continue
            folder = path.parent.relative_to(run_dir).as_posix()
            self.client.log_artifact(self.run_id, str(path), None if folder == "." else folder)

    def close(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status)
