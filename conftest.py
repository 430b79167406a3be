"""Test-wide setup: the hub is off and only loopback connections are allowed, in this process
and in every notebook kernel or subprocess the tests start."""

from __future__ import annotations

import os
import sys
from pathlib import Path

GUARD_DIR = Path(__file__).resolve().parent / "tests" / "network_guard"

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD_DIR), os.environ.get("PYTHONPATH")]))
sys.path.insert(0, str(GUARD_DIR))

import network_guard  # noqa: E402

network_guard.install()

# The browser test (a real JupyterLab in Chromium) runs only through `make test-browser`.
collect_ignore = [] if os.environ.get("COURSE_BROWSER_TEST") == "1" else ["tests/browser"]
