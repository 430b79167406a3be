"""Repository-wide checks: ruff (lint + import order, line length 120) and the exact pins of the libraries that
built the shipped checkpoints."""

from __future__ import annotations

import importlib.metadata as md
import re
import shutil
import subprocess
import sys

from course_lib.base.paths import REPO_DIR


def test_ruff_passes():
    ruff = shutil.which("ruff", path=str(REPO_DIR / ".venv" / "bin")) or shutil.which("ruff")
    command = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    out = subprocess.run([*command, "check", "."], cwd=REPO_DIR, capture_output=True, text=True)
    assert out.returncode == 0, (
        f"ruff check . found problems (fix them, or `ruff check --fix .`):\n{out.stdout}{out.stderr}"
    )


def test_ruff_config_is_the_courses():
    text = (REPO_DIR / "pyproject.toml").read_text()  # read as text: tomllib needs Python 3.11
    assert re.search(r"^\[tool\.ruff\]\s*\nline-length = 120$", text, re.MULTILINE)
    assert re.search(r'^select = \["E", "F", "W", "I"\]', text, re.MULTILINE)


def test_installed_versions_equal_the_pins():
    """transformers and tokenizers are pinned exactly to the versions that built data/*: a different version may load
    or run the checkpoints differently. Bump a pin only together with a rebuild (make checkpoints)."""
    text = (REPO_DIR / "pyproject.toml").read_text()
    pins = {
        name.lower(): version
        for name, version in re.findall(r'^\s*"([A-Za-z0-9_.-]+)==([^"\s;]+)"', text, re.MULTILINE)
    }
    assert {"transformers", "tokenizers"} <= set(pins), f"transformers and tokenizers must be pinned with ==: {pins}"
    for package, version in pins.items():
        assert md.version(package) == version, (
            f"{package} {md.version(package)} is installed but pyproject.toml pins {version}: run `make setup`"
        )
