"""A real JupyterLab on 127.0.0.1, serving a copy of the notebooks, and Debian's chromium driven by
Playwright. Run by `make test-browser`; screenshots land in build/browser/ (git-ignored)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from course_lib.base.paths import NOTEBOOKS_DIR, REPO_DIR

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/notebook_views.py

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SHOTS = REPO_DIR / "build" / "browser"
# Flags for a closed network and a container: no sandbox, no GPU, no background fetches.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# User settings of the served lab: no kernel dialog, no news toast, no autosave (the test compares
# saved files), every cell in the DOM (windowing would leave off-screen outputs undrawn).
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"autoStartDefaultKernel": True, "windowingMode": "none",
                                               "kernelShutdown": True},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    return SHOTS


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """(url, served root): JupyterLab serving a copy of notebooks/ (the test saves and runs them)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(NOTEBOOKS_DIR, root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(REPO_DIR / "jupytext.toml", root / "jupytext.toml")
    home = tmp_path_factory.mktemp("jupyter")
    for plugin, values in SETTINGS.items():
        package, name = plugin.rsplit("/", 1)
        path = home / "settings" / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_DATA_DIR=str(home / "data"),  # a fresh trust database: every notebook opens untrusted
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), OMP_NUM_THREADS="1")
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
           "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.news_url=None",
           "--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(home / "server.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
    yield url, root
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), "
                    "or set CHROMIUM=/path/to/chromium. Never `playwright install`.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, lab, shots, request):
    """A fresh JupyterLab tab, 1280 x 900 px with the file browser open; on failure, a screenshot."""
    url, _ = lab
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/lab/workspaces/{request.node.name.split('[')[0][-20:]}?reset")  # no tabs restored
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-DirListing')")
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(shots / f"FAILED-{request.node.name}.png"))
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
