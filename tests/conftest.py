from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    # Every run is kept in the run history: the tests' (and their kernels' and servers', which
    # inherit the environment) go to a scratch file, never the user's own history.
    scratch = tempfile.mkdtemp(prefix="pointy-test-history-")
    os.environ["POINTY_HISTORY"] = str(Path(scratch) / "history.sqlite3")


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


CHROMIUM = Path("/usr/bin/chromium")
# No outbound calls: this machine's network is closed (see shared/JUPYTER_STACK.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (Playwright's own browser download is unreachable)."""
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """The process's local Dask cluster (2 worker processes on 127.0.0.1), started once."""
    pytest.importorskip("distributed")
    from pointy_engine.dask_executor import local_cluster

    yield local_cluster.client()
    local_cluster.close()
