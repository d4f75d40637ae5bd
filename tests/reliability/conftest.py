"""The reliability tests run the checks of `benchmarks/reliability_checks.py`, small."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
