"""Pointy's engine: the language, graphs, events, pipelines, runs and signals. No Jupyter here.

Names are imported lazily, so `import pointy_engine` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "PointyError": "errors",
    "PointySyntaxError": "errors",
    "PointyCheckError": "errors",
    "UnknownEventError": "errors",
    "parse": "language",
    "unparse": "language",
    "build_graph": "graph",
    "Graph": "graph",
    "ascii_graph": "drawing",
    "dot_source": "drawing",
    "render_graphviz": "drawing",
    "EventBase": "events",
    "event": "events",
    "Outcome": "events",
    "EventExecutionEvaluationState": "events",
    "RetryPolicy": "retry",
    "ExecutorInitializerConfig": "executors",
    "Executors": "executors",
    "InputDataField": "fields",
    "FileInputDataField": "fields",
    "Pipeline": "pipeline",
    "BatchPipeline": "batch",
    "Plan": "plan",
    "Run": "run",
    "Record": "records",
    "ErrorInfo": "records",
    "SoftSignal": "signals",
    "listener": "signals",
    "FakeClock": "clock",
    "MissingArgumentError": "plan",
    "AmbiguousEventError": "errors",
    "PipelineFlowError": "errors",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)


if TYPE_CHECKING:
    from .batch import BatchPipeline
    from .clock import FakeClock
    from .drawing import ascii_graph, dot_source, render_graphviz
    from .errors import (
        AmbiguousEventError,
        PipelineFlowError,
        PointyCheckError,
        PointyError,
        PointySyntaxError,
        UnknownEventError,
    )
    from .events import EventBase, EventExecutionEvaluationState, Outcome, event
    from .executors import ExecutorInitializerConfig, Executors
    from .fields import FileInputDataField, InputDataField
    from .graph import Graph, build_graph
    from .language import parse, unparse
    from .pipeline import Pipeline
    from .plan import MissingArgumentError, Plan
    from .records import ErrorInfo, Record
    from .run import Run
    from .signals import SoftSignal, listener
