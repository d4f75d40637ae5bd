"""The wheel `python -m build` makes carries the prebuilt lab extension, and installing it is
all a user does: installed into a fresh environment, `jupyter labextension list` shows the
extension enabled and OK from where the wheel put it.

Needs the bundle in labextension/prebuilt (`scripts/labextension` builds it) and `build` plus
`hatchling` in the environment (the test group), so the wheel builds without the network.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PREBUILT = ROOT / "labextension" / "prebuilt"
NAME = "pointy-labextension"
VERSION = json.loads((ROOT / "labextension" / "package.json").read_text())["version"]
SHARE = f"share/jupyter/labextensions/{NAME}"
PIP = [sys.executable, "-m", "pip"]
QUIET_OFFLINE = ["-q", "--no-deps", "--no-index", "--disable-pip-version-check"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert (PREBUILT / "package.json").exists(), "run scripts/labextension to build the bundle"
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = out.glob("pointy-*.whl")
    return built


def test_the_wheel_holds_the_prebuilt_extension(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        data = [name.split(".data/data/", 1)[1] for name in names if ".data/data/" in name]
        assert f"{SHARE}/install.json" in data
        assert f"{SHARE}/package.json" in data
        assert any(re.fullmatch(rf"{SHARE}/static/remoteEntry\.[0-9a-f]+\.js", n) for n in data)
        [manifest] = [n for n in names if n.endswith(f".data/data/{SHARE}/package.json")]
        package = json.loads(archive.read(manifest))
        assert (package["name"], package["version"]) == (NAME, VERSION)
        # The bundle in the wheel is the current one: it has the diagnostics comm target.
        bundles = [n for n in names if f"{SHARE}/static/" in n and n.endswith(".js")]
        assert any(b"pointy.diagnostics" in archive.read(name) for name in bundles)
        assert not [n for n in names if "/node_modules/" in n or n.endswith(".ts")]


def test_installing_the_wheel_enables_the_extension(wheel: Path, tmp_path: Path) -> None:
    # A fresh environment of its own: pip would otherwise replace this checkout's own install.
    target = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(target)], check=True, timeout=120
    )
    subprocess.run(
        [*PIP, "--python", str(target / "bin" / "python"), "install", *QUIET_OFFLINE, str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (target / SHARE / "package.json").exists()
    # This environment keeps its own install of the package (the notebooks' kernels import it).
    subprocess.run([sys.executable, "-c", "import pointy_jupyter"], cwd=tmp_path, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        JUPYTER_PATH=str(target / "share" / "jupyter"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        NO_COLOR="1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "jupyterlab.labextensions", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    listing = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    # The listing groups extensions by folder: ours must be listed under the new environment's.
    section = listing.split(str(target / SHARE.rsplit("/", 1)[0]), 1)
    assert len(section) == 2, listing
    first_group = section[1].split("\n/", 1)[0]
    assert re.search(rf"^\s+{NAME} v{re.escape(VERSION)} enabled OK", first_group, re.M), listing
