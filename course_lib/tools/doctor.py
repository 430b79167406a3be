"""Environment check for learners: versions, threads, offline readiness, widgets."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform

from ..base.paths import DATA_DIR, REPO_DIR, SHIPPED
from ..base.seeding import busy_cores, choose_threads, cores


def _version(package: str) -> str | None:
    try:
        return md.version(package)
    except md.PackageNotFoundError:
        return None


def doctor() -> bool:
    """Print one [OK]/[FAIL] line per check and return True when all pass."""
    import torch

    checks: list[tuple[bool, str]] = []
    checks.append(
        (tuple(map(int, platform.python_version_tuple()[:2])) >= (3, 10), f"python {platform.python_version()}")
    )
    for package in (
        "torch",
        "transformers",
        "tokenizers",
        "numpy",
        "matplotlib",
        "scikit-image",
        "ipywidgets",
        "jupytext",
    ):
        v = _version(package)
        checks.append((v is not None, f"{package} {v or 'missing'}"))
    checks.append(
        (
            not torch.cuda.is_available(),
            f"torch runs on CPU (build {torch.__version__}), {torch.get_num_threads()} threads of {cores()} cores",
        )
    )
    busy, load = busy_cores(), (os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
    checks.append((True, f"machine load: {busy:.1f} of {cores()} cores busy now (1-minute load average {load:.1f}); "
                         f"seed_everything() would choose {choose_threads()} torch thread(s)"))
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    checks.append(
        (
            offline,
            "hub offline (HF_HUB_OFFLINE=1): nothing will be downloaded"
            if offline
            else "HF_HUB_OFFLINE is not 1: import course_lib before transformers",
        )
    )
    data = DATA_DIR.relative_to(REPO_DIR).as_posix()  # relative: a saved notebook shows no machine's path
    checks.append((DATA_DIR.is_dir(), f"data folder at {data}/ in the course folder"))
    for name in SHIPPED:
        folder = DATA_DIR / name
        ok = (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))
        checks.append((ok, f"shipped checkpoint data/{name}" + ("" if ok else " missing: see data/README.md")))
    try:
        from ..photos import load_photo

        checks.append((load_photo("astronaut").shape == (512, 512, 3), "real photos load offline (scikit-image)"))
    except Exception as err:  # report, never raise: this is a diagnosis
        checks.append((False, f"real photos: {err}"))
    lab_widgets = _version("jupyterlab_widgets")
    checks.append((lab_widgets is not None, f"JupyterLab widget extension {lab_widgets or 'missing'}"))
    for ok, text in checks:
        print(("[OK]   " if ok else "[FAIL] ") + text)
    return all(ok for ok, _ in checks)
