"""What `%%pointy --plan` shows: each node, the event it resolves to, its executor, attempts."""

from __future__ import annotations

from typing import Any

from pointy_engine.plan import Plan, describe


def plan_frame(plan: Plan, override_label: str | None = None) -> Any:
    """`pointy_engine.plan.describe` as a pandas DataFrame indexed by node id."""
    import pandas as pd

    return pd.DataFrame(describe(plan, override_label)).set_index("node")
