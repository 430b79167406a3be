"""`make lab`: start JupyterLab at notebook 00 for every user, and say what to do when it cannot.

    python -m course_lib.tools.lab                      # what `make lab` runs
    python -m course_lib.tools.lab --port 9000 --ip 0.0.0.0 -- --no-browser

- As root (containers, course servers) it adds `--allow-root`, which JupyterLab otherwise demands.
- A busy port: with no port asked for, it takes the next free one after 8888 and says so; with a
  port asked for (`make lab PORT=9000`), it stops and names a free one.
- On a remote machine (an SSH session, or Linux without a display) it opens no browser and prints
  the SSH tunnel command and the URL to open on your own computer.
- It prints the URL of notebook 00 with its access token, then replaces itself with JupyterLab
  (Ctrl-C stops the server as usual).
"""
from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from ..base.paths import NOTEBOOKS_DIR, REPO_DIR

DEFAULT_PORT = 8888
START_NOTEBOOK = "00_start_here.ipynb"  # in notebooks/, the server's root folder


@dataclass(frozen=True)
class LabPlan:
    """What to run and what to tell the user before running it."""

    command: list[str]
    env: dict[str, str]
    url: str
    messages: list[str]


def port_is_free(ip: str, port: int) -> bool:
    """True if a server could listen on (ip, port) now (the way JupyterLab binds it)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def choose_port(ip: str, requested: int | None, default: int = DEFAULT_PORT, tries: int = 50) -> tuple[int, str]:
    """(port, message): the requested port if free, else raise SystemExit naming a free one;
    with no request, the first free port from `default` on."""
    start = requested if requested is not None else default
    free = next((p for p in range(start, start + tries) if p < 65536 and port_is_free(ip, p)), None)
    if requested is not None:
        if free == requested:
            return requested, ""
        alternative = f"make lab PORT={free}" if free else "make lab PORT=<another port>"
        raise SystemExit(
            f"make lab: port {requested} on {ip} is busy: another program (perhaps another JupyterLab) listens "
            f"there.\n  Use another port: {alternative}\n  or stop the other server: `jupyter server list` shows "
            f"running servers, `jupyter server stop {requested}` stops one."
        )
    if free is None:
        raise SystemExit(f"make lab: ports {default}-{default + tries - 1} on {ip} are all busy; "
                         "choose one with `make lab PORT=<port>`.")
    if free != default:
        return free, (f"Port {default} is busy (another JupyterLab? `jupyter server list` shows it); "
                      f"using port {free}. Choose one with `make lab PORT=<port>`.")
    return free, ""


def is_remote(env: dict[str, str]) -> bool:
    """An SSH session, or Linux without a graphical display: no browser to open here."""
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return True
    return sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def in_container() -> bool:
    """Docker and Podman leave a marker file at the root of a container's file system."""
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def plan_lab(port: int | None, ip: str, extra: list[str], env: dict[str, str], is_root: bool) -> LabPlan:
    """The JupyterLab command line, its environment, notebook 00's URL and the messages to print."""
    chosen, note = choose_port(ip, port)
    messages = [note] if note else []
    env = dict(env)
    env.setdefault("HF_HUB_OFFLINE", "1")
    token = env.get("JUPYTER_TOKEN") or secrets.token_urlsafe(24)
    env["JUPYTER_TOKEN"] = token  # in the environment, not the command line, so `ps` does not show it
    jupyter = str(Path(sys.executable).with_name("jupyter"))
    command = [jupyter, "lab", str(NOTEBOOKS_DIR / START_NOTEBOOK), f"--ServerApp.root_dir={NOTEBOOKS_DIR}",
               f"--ip={ip}", f"--port={chosen}", "--port-retries=0"]
    if is_root and "--allow-root" not in extra:
        command.append("--allow-root")
        messages.append("Running as root (usual in containers and on course servers): adding --allow-root.")
    host = socket.gethostname() if ip in ("0.0.0.0", "::", "") else ip
    url = f"http://{host}:{chosen}/lab/tree/{START_NOTEBOOK}?token={token}"
    if is_remote(env):
        if "--no-browser" not in extra:
            command.append("--no-browser")
        local = f"http://localhost:{chosen}/lab/tree/{START_NOTEBOOK}?token={token}"
        if ip in ("127.0.0.1", "localhost", "::1"):
            messages.append(
                "This looks like a remote machine (SSH, or no display): no browser is opened here. The server "
                f"listens on {ip} of this machine only. On your own computer run\n"
                f"    ssh -N -L {chosen}:localhost:{chosen} <you>@<this machine>\n"
                f"  then open {local}\n"
                f"  (Or listen on every interface: make lab IP=0.0.0.0, then open http://<this machine>:{chosen}/...; "
                "anyone who can reach it and has the token can run code.)")
            if in_container():
                messages.append(
                    "Inside a container, 127.0.0.1 is the container's own: to reach the server from the host, start "
                    f"the container with the port published (docker run -p {chosen}:{chosen} ...) and run "
                    f"make lab IP=0.0.0.0 PORT={chosen}, then open {local}")
        else:
            messages.append(f"No browser is opened here (remote machine). Open {url} from your computer.")
    if ip in ("0.0.0.0", "::", ""):
        messages.append(f"Listening on every network interface of this machine ({ip or 'all'}): anyone who can "
                        "reach it and has the token can run code as you.")
    command += extra
    messages.append(f"Notebook 00 will be at:\n    {url}\nStop the server with Ctrl-C.")
    return LabPlan(command, env, url, messages)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="make lab", description="Start JupyterLab at notebook 00.")
    parser.add_argument("--port", default="", help=f"port to listen on (default: {DEFAULT_PORT}, or the next free one)")
    parser.add_argument("--ip", default="", help="interface to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("extra", nargs="*", help="more `jupyter lab` options, after --")
    args = parser.parse_args(argv)
    try:
        port = int(args.port) if args.port.strip() else None
    except ValueError:
        raise SystemExit(f"make lab: PORT must be a whole number such as 8890, got {args.port!r}: "
                         "make lab PORT=8890") from None
    if port is not None and not 0 < port < 65536:
        raise SystemExit(f"make lab: PORT must be between 1 and 65535, got {port}: make lab PORT=8890")
    ip = args.ip.strip() or "127.0.0.1"
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    plan = plan_lab(port, ip, args.extra, dict(os.environ), is_root)
    for message in plan.messages:
        print(message, flush=True)
    os.chdir(REPO_DIR)
    os.execve(plan.command[0], plan.command, plan.env)


if __name__ == "__main__":
    main()
