"""A real headless browser and a real explorer server for the web tests.

Chromium and its driver come from Debian's packages (`chromium`, `chromium-driver`); when they
are missing and we are root with apt-get (as in CI), they are installed here, once. The explorer
runs as `python -m vaekit explore` in a subprocess on a free loopback port, and is always stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

APT_PACKAGES = ("chromium", "chromium-driver")


def find_chromium() -> tuple[str | None, str | None]:
    return shutil.which("chromium"), shutil.which("chromedriver")


def ensure_chromium() -> str:
    """'' when Chromium and chromedriver are on PATH (installing them with apt-get if need be),
    else why they cannot be had (the reason a test is skipped)."""
    if all(find_chromium()):
        return ""
    if not shutil.which("apt-get"):
        return (
            "Chromium is not installed and there is no apt-get to install it "
            "(Debian: apt-get install chromium chromium-driver)"
        )
    if os.geteuid() != 0:
        return "Chromium is not installed and only root can apt-get install chromium chromium-driver"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *APT_PACKAGES])
    for step in steps:
        try:
            done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"'{' '.join(step)}' failed: {err}"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return f"'{' '.join(step)}' failed with status {done.returncode}: {last}"
    return "" if all(find_chromium()) else "apt-get installed chromium but chromium/chromedriver are still not on PATH"


def start_browser(width: int = 1280, height: int = 1000):
    """A headless Chromium driven by Selenium that records the page's console messages."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = find_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def console_errors(driver) -> list[str]:
    """SEVERE console messages since the last call (reading the log empties it)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def stop(proc: subprocess.Popen) -> None:
    """Ends a server the test started: SIGTERM, then SIGKILL after 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def explorer_server(run_dir: Path, log_path: Path, timeout: float = 120.0) -> Iterator[str]:
    """Serves `vaekit explore run_dir` on a free loopback port; yields its base URL; always stops it."""
    port = free_port()
    cmd = [sys.executable, "-m", "vaekit", "--threads", "1", "explore", str(run_dir), "--port", str(port)]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log_tail = Path(log_path).read_text()[-2000:]
                raise RuntimeError(f"vaekit explore exited with status {proc.returncode}: {log_tail}")
            try:
                if httpx.get(url + "/api/info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                log_tail = Path(log_path).read_text()[-2000:]
                raise RuntimeError(f"vaekit explore did not answer within {timeout:.0f} s: {log_tail}")
            time.sleep(0.2)
        yield url
    finally:
        stop(proc)
