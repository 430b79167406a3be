"""`make lab` starts a JupyterLab that serves notebook 00, as the current user and (when the tests
run as root) as an ordinary user too; a busy port and a remote machine get clear messages.
The servers listen on loopback only and are stopped by the test."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from course_lib.base.paths import REPO_DIR
from course_lib.tools import lab

TOKEN = "course-test-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _start_and_stop(tmp_path: Path, user: int | None = None) -> str:
    """Run `make lab` on a free loopback port, check notebook 00 is served, stop it; return its output."""
    port = _free_port()
    env = dict(os.environ, JUPYTER_TOKEN=TOKEN, HOME=str(tmp_path), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"PORT={port}", "IP=127.0.0.1", "LAB_ARGS=--no-browser",
             f"PYTHON={sys.executable}"],
            cwd=REPO_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            **({"user": user, "group": user, "extra_groups": []} if user is not None else {}))
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if _get(f"http://127.0.0.1:{port}/api") == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not answer on port {port} within 90 s:\n{log.read_text()[-3000:]}")
        assert _get(f"http://127.0.0.1:{port}/lab/tree/00_start_here.ipynb?token={TOKEN}") == 200
        assert _get(f"http://127.0.0.1:{port}/api/contents/00_start_here.ipynb?content=0&token={TOKEN}") == 200
        assert _get(f"http://127.0.0.1:{port}/api/contents/00_start_here.ipynb?content=0") == 403  # token needed
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = log.read_text()
    assert f"http://127.0.0.1:{port}/lab/tree/00_start_here.ipynb?token={TOKEN}" in output
    return output


def test_make_lab_serves_notebook_00_as_the_current_user(tmp_path):
    output = _start_and_stop(tmp_path)
    assert ("adding --allow-root" in output) == (os.geteuid() == 0)
    assert "Running as root is not recommended" not in output


def test_make_lab_as_an_ordinary_user_when_the_tests_run_as_root(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the tests run as an ordinary user: the test above covered it; the root case needs root")
    nobody = 65534
    try:
        runs = subprocess.run([sys.executable, "-c", "pass"], user=nobody, group=nobody, extra_groups=[],
                              capture_output=True, cwd="/").returncode == 0
    except PermissionError:
        runs = False
    if not runs:
        pytest.skip(f"user nobody cannot run this Python ({sys.executable}): its folders are private to root")
    os.chmod(tmp_path, 0o777)
    output = _start_and_stop(tmp_path, user=nobody)
    assert "adding --allow-root" not in output


def test_a_busy_requested_port_stops_with_a_free_alternative():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as stop:
            lab.choose_port("127.0.0.1", port)
        message = str(stop.value)
        assert f"port {port} on 127.0.0.1 is busy" in message and "make lab PORT=" in message
        assert "jupyter server list" in message
        # With no port asked for, the next free one is taken and the user is told.
        chosen, note = lab.choose_port("127.0.0.1", None, default=port)
        assert chosen != port and f"Port {port} is busy" in note and f"using port {chosen}" in note


def test_a_bad_port_value_is_a_clear_error():
    with pytest.raises(SystemExit, match="PORT must be a whole number"):
        lab.main(["--port", "eighty"])
    with pytest.raises(SystemExit, match="between 1 and 65535"):
        lab.main(["--port", "70000"])


def test_plan_adds_allow_root_only_for_root_and_explains_remote_use(monkeypatch):
    port = _free_port()
    local = {"DISPLAY": ":0", "JUPYTER_TOKEN": "t"}
    user_plan = lab.plan_lab(port, "127.0.0.1", [], local, is_root=False)
    assert "--allow-root" not in user_plan.command and "--no-browser" not in user_plan.command
    root_plan = lab.plan_lab(port, "127.0.0.1", [], local, is_root=True)
    assert "--allow-root" in root_plan.command
    remote = lab.plan_lab(port, "127.0.0.1", [], {"SSH_CONNECTION": "10.0.0.2 5000 10.0.0.1 22"}, is_root=False)
    text = "\n".join(remote.messages)
    assert "--no-browser" in remote.command
    assert f"ssh -N -L {port}:localhost:{port}" in text and "make lab IP=0.0.0.0" in text
    assert remote.env["JUPYTER_TOKEN"] not in " ".join(remote.command)  # the token stays out of `ps`
    everywhere = lab.plan_lab(port, "0.0.0.0", [], local, is_root=False)
    assert any("every network interface" in m for m in everywhere.messages)
    monkeypatch.setattr(lab, "in_container", lambda: True)
    boxed = lab.plan_lab(port, "127.0.0.1", [], {}, is_root=True)
    assert any(f"docker run -p {port}:{port}" in m and "make lab IP=0.0.0.0" in m for m in boxed.messages)
