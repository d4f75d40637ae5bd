"""The output area shown under a run's widget, where background runs and re-runs print.

An ipywidgets `Output` saves `Output()` as its text fallback, which is all a notebook viewer
without a kernel shows of it. This one's fallback is the text it holds: nothing while empty,
and what the runs printed once the display is updated at a run's end.
"""

from __future__ import annotations

from typing import Any

import ipywidgets

from .output import printed_text
from .saved_view import with_saved_view


class RunOutput(ipywidgets.Output):
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = printed_text(self.outputs)
        return with_saved_view(data)

    def __repr__(self) -> str:
        return f"RunOutput(outputs={len(self.outputs)})"
