"""docs/tutorial.md cannot drift from the code: its commands run here at CI size, on a slice of MNIST.

`examples/tutorial.py all --small` trains the tutorial's models (same commands, narrower, 4
epochs on 4,000 binarized MNIST digits), then runs every measurement step. The claims each figure
of the tutorial supports are asserted where they hold even for such small models.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def small(real_data_dir, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("VAEKIT_DATA_DIR", str(real_data_dir))
    monkeypatch_module.syspath_prepend(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("tutorial", EXAMPLES / "tutorial.py")
    tutorial = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tutorial)
    work = tmp_path_factory.mktemp("tutorial")
    return tutorial.run_small(work), work


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp
    for name in [n for n in sys.modules if n.startswith("tutorial")]:
        del sys.modules[name]


def test_every_step_writes_its_tables_and_figures(small):
    _, work = small
    out = work / "out"
    for name in ("evidence", "holes", "bottleneck", "faces"):
        assert (out / f"{name}.md").read_text().strip()
        assert (out / f"{name}.json").is_file()
    for figure in (
        "evidence-convergence",
        "elbo-gap",
        "holes-samples",
        "holes-interpolations",
        "bottleneck",
        "latent-2d",
        "faces",
    ):
        assert (out / f"{figure}.png").stat().st_size > 10_000


def test_codes_from_the_prior_explain_x_worse_than_codes_from_q(small):
    results, _ = small
    table = results["evidence"]["results"]["vae-z16"]["table"]
    for k in (10, 100):  # at equal K, naive Monte Carlo is further from log p(x) than importance sampling
        assert abs(table["prior"][k]["error"]) > abs(table["q"][k]["error"]) + 1.0
    assert table["q"][1]["mean"] < table["q"][10]["mean"] < table["q"][100]["mean"]  # the IS bound rises with K
    # the fewer nats the code holds about x, the sooner naive Monte Carlo converges: 2 latents beat 16
    two = results["evidence"]["results"]["vae-z2"]
    assert abs(two["table"]["prior"][1000]["error"]) < abs(table["prior"][1000]["error"])
    assert two["kl_posterior_prior_median"] < results["evidence"]["results"]["vae-z16"]["kl_posterior_prior_median"]


def test_the_elbo_is_below_log_px_by_the_posterior_gap(small):
    results, _ = small
    for name in ("vae-z16", "iwae-z16"):
        gap = results["evidence"]["results"][name]["gap"]
        assert gap["mean"] > 0 and gap["log_px"] > gap["elbo"]


def test_the_autoencoder_code_space_has_holes(small):
    holes = small[0]["holes"]
    # the AE's codes are not where N(0, I) puts its mass: codes drawn where the AE's codes are decode to
    # digits far more often than codes drawn from N(0, I)
    fitted, standard = holes["ae, codes from Gaussian fitted to the codes"], holes["ae, codes from N(0, I)"]
    assert fitted["confident"] > standard["confident"]
    # and the VAE, whose KL pulls its codes onto N(0, I), generates from N(0, I) where the AE cannot: its
    # decoded prior codes are nearer to real digits in the classifier's features (Fréchet distance)
    assert holes["vae, codes from N(0, I)"]["fid"] < holes["ae, codes from N(0, I)"]["fid"]
    assert holes["real test digits"]["fid"] < holes["vae, codes from N(0, I)"]["fid"]  # the floor is below both


def test_a_wider_bottleneck_reconstructs_better(small):
    rows = {r["d"]: r for r in small[0]["bottleneck"]["rows"]}
    for key in ("pca_sse", "ae_sse", "vae_recon"):
        assert rows[16][key] < rows[2][key]
    assert rows[16]["vae_kl"] > rows[2]["vae_kl"]  # paid for with a higher rate
