"""What a `%%pointy` cell asks to run, worked out once: the graph, the inputs, the settings.

A re-run keeps the spec and plans it again, so events are looked up in the notebook anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pointy_engine.graph import Graph
from pointy_engine.pipeline import Pipeline
from pointy_engine.plan import graph_of

from .errors import PointyCellError, reported
from .options import CellOptions


@dataclass(frozen=True)
class RunSpec:
    graph: Graph
    fields: dict[str, Any]
    options: CellOptions
    shift: int = 1  # lines above the pipeline's text in the cell (0: it came from a class)
    pipeline: Pipeline | None = None  # the instance that validated the inputs, if any
    executor: Any = None  # the executor override handed to Plan
    executor_label: str | None = None

    @property
    def source(self) -> str:
        return self.graph.source


def is_blank(body: str) -> bool:
    """No pipeline in the body: only blank lines and comments (IPython rejects an empty one)."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in body.splitlines())


def build_spec(
    body: str, options: CellOptions, executor: Any = None, executor_label: str | None = None
) -> RunSpec:
    """Parse the body, or take a `--pipeline` class's own flow when the body has none."""
    pipeline = None
    fields = dict(options.inputs)
    if options.pipeline is not None:
        with reported():
            pipeline = options.pipeline(**options.inputs)
        fields = pipeline.inputs
    if pipeline is not None and is_blank(body):
        shift = 0
        with reported(shift=shift):
            graph = options.pipeline.graph()
    else:
        shift = 1
        with reported():
            graph = graph_of(body)  # the same text again: the same graph, and its last plan
    if options.out is not None and options.out in {node.name for node in graph.nodes}:
        raise PointyCellError(
            f"-o {options.out} would replace the event {options.out!r}; bind the run to "
            "another name"
        )
    return RunSpec(graph, fields, options, shift, pipeline, executor, executor_label)
