"""`Pipeline`: input fields plus a Pointy flow, started as runs.

The flow comes from `Meta.pointy`, `Meta.file`, a `meta = {"pointy": ...}` or `{"file": ...}`
dict, or a `ClassName.pty` file beside the class's module, looked up in that order.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import signals
from .clock import Clock
from .drawing import ascii_graph, render_graphviz
from .errors import (
    AmbiguousEventError,
    PipelineFlowError,
    PointyCheckError,
    PointyError,
    PointySyntaxError,
)
from .events import EventBase, FunctionEvent
from .executors import Executors
from .fields import FileInputDataField, InputDataField, collect_fields, validate_inputs
from .graph import Graph
from .plan import Plan, graph_of
from .records import Listener
from .registry import default_registry
from .run import Run
from .signals import SoftSignal
from .threads import shared_threads

__all__ = ["FileInputDataField", "InputDataField", "Pipeline", "SoftSignal"]

MAX_FLOW_FILE_BYTES = 8 * 1024 * 1024
"""A `.pty` file larger than this is refused before it is read: a 100,000-event flow is ~1 MB."""


def read_flow_file(path: Path, owner: str) -> str:
    """The text of a `.pty` file, or a `PointyError` naming the file and what is wrong with it
    (`owner` says who asked, e.g. `Nightly (Nightly.Meta.file)`). It is only read, never run."""
    where = f"{owner}: the Pointy file {str(path)!r}"
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise PointyError(f"{where} is not a file")
        if size > MAX_FLOW_FILE_BYTES:
            raise PointyError(
                f"{where} is {size:,} bytes, over the {MAX_FLOW_FILE_BYTES:,}-byte limit for a flow"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise PointyError(f"{where} does not exist") from None
    except PermissionError:
        raise PointyError(f"{where} cannot be read: permission denied") from None
    except OSError as error:
        raise PointyError(f"{where} cannot be read: {error.strerror or error}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise PointyError(
            f"{where} is not UTF-8 text: byte {error.start} (line {line}) is "
            f"{data[error.start : error.start + 1]!r}"
        ) from None


def _flow_source(cls: type) -> tuple[str, str, str | None]:
    """(source text, where it came from, the file's path if it came from one)."""
    meta = getattr(cls, "Meta", None)
    options: dict[str, Any] = {}
    holder = f"{cls.__name__}.Meta"
    if meta is not None:
        options = {key: getattr(meta, key) for key in ("pointy", "file") if hasattr(meta, key)}
    elif isinstance(getattr(cls, "meta", None), Mapping):
        options = dict(cls.meta)
        holder = f"{cls.__name__}.meta"
    if options.get("pointy") is not None:  # an empty flow was given: parsing says it is empty
        return options["pointy"], f"{holder}.pointy", None
    if options.get("file"):
        path = Path(options["file"])
        return read_flow_file(path, f"{cls.__name__} ({holder}.file)"), str(path), str(path)
    module = sys.modules.get(cls.__module__)
    module_file = getattr(module, "__file__", None)
    if module_file:
        beside = Path(module_file).with_name(f"{cls.__name__}.pty")
        if beside.exists():
            return read_flow_file(beside, cls.__name__), str(beside), str(beside)
    raise PointyError(
        f"{cls.__name__} has no flow: give Meta.pointy, Meta.file, a meta dict, "
        f"or a {cls.__name__}.pty file beside its module"
    )


class Pipeline:
    """Subclass, declare `InputDataField`s and a flow; `MyPipeline(field=...).start()`."""

    _fields: dict[str, InputDataField] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fields = collect_fields(cls)
        cls._graph: Graph | None = None

    def __init__(self, **inputs: Any) -> None:
        signals.pipeline_pre_init.emit(type(self), cls=type(self), args=(), kwargs=inputs)
        self._inputs = validate_inputs(type(self).__name__, type(self)._fields, inputs)
        signals.pipeline_post_init.emit(type(self), pipeline=self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._inputs!r}>"

    @classmethod
    def graph(cls) -> Graph:
        """The class's flow, parsed, checked and lowered once."""
        if cls.__dict__.get("_graph") is None:
            source, origin, path = _flow_source(cls)
            try:
                cls._graph = graph_of(source)  # a class defined again shares the graph
            except PointySyntaxError as error:
                raise PipelineFlowError(error, cls.__name__, origin, path) from None
            except PointyCheckError as error:
                error.pipeline = cls.__name__
                raise
        return cls._graph  # type: ignore[return-value]

    @classmethod
    def resolve_events(cls, names: Iterable[str]) -> dict[str, Any]:
        """The registered events a flow's `names` mean for this class (SPEC 2.1): its own
        module's definition first, then what that module imports, then the one module that
        defines the name; several such modules are an error, except in a notebook
        (`__main__`), where the latest definition wins."""
        home = cls.__module__
        chosen, elsewhere = default_registry.for_module(set(names), home)
        if not elsewhere:
            return chosen  # the class's own module defines every name
        namespace = vars(sys.modules[home]) if home in sys.modules else {}
        for name, modules in elsewhere.items():
            imported = namespace.get(name)
            if isinstance(imported, FunctionEvent) or (
                isinstance(imported, type) and issubclass(imported, EventBase)
            ):
                chosen[name] = imported
                continue
            if len(modules) > 1 and home != "__main__":
                raise AmbiguousEventError(cls.__name__, home, name, modules)
        return chosen

    @property
    def inputs(self) -> dict[str, Any]:
        return dict(self._inputs)

    def plan(
        self,
        events: Mapping[str, Any] | None = None,
        executors: Executors | None = None,
        executor: Any = None,
    ) -> Plan:
        """Bind the flow to events: `events` (a notebook passes its namespace) or, by default,
        every `EventBase` / `@event` defined so far, the latest definition of a name winning."""
        graph = self.graph()
        if events is None:
            events = type(self).resolve_events(node.name for node in graph.nodes)
        try:
            return Plan(graph, events, self._inputs, executors, executor)
        except PointyCheckError as error:
            error.pipeline = type(self).__name__
            raise

    def start(
        self,
        *,
        background: bool = False,
        events: Mapping[str, Any] | None = None,
        listeners: Iterable[Listener] = (),
        executors: Executors | None = None,
        executor: Any = None,
        clock: Clock | None = None,
        stop_on_error: bool = False,
        stop_on_exception: bool = False,
        capture_output: bool = False,
        tags: Mapping[str, str] | None = None,
        cache: Any = None,
        force_rerun: bool = True,
    ) -> Run:
        """Run the pipeline. Blocks until the end unless `background=True`.

        Unknown events and missing arguments raise here, before anything runs; an event's
        failure never raises (see `run.status` and `run.nodes`). `executor` runs every event
        on one executor, overriding their own settings. `capture_output` keeps what each event
        prints and logs in `run.nodes[id].output`. `tags` say where the run came from
        (`{"trigger": "schedule", "job": ...}`), for observers such as run history. `cache`
        (True, a folder, or a `pointy_engine.cache.Cache`) takes a node's value from disk when
        its event's code and inputs match a cached success (state "cached"), and stores what
        succeeds. `force_rerun` is the original library's flag, accepted for porting: every
        start is a new run of every event, so it changes nothing here (re-run parts of a
        finished run with `run.rerun(...)`).
        """
        own = executors is None
        if own:  # processes are this run's own; threads come from the process's pools
            executors = Executors(threads=shared_threads)
        plan = self.plan(events, executors, executor)
        run = Run(
            plan,
            listeners=listeners,
            clock=clock,
            stop_on_error=stop_on_error,
            stop_on_exception=stop_on_exception,
            own_executors=own,
            capture_output=capture_output,
            name=type(self).__name__,
            tags=tags,
            cache=cache,
        )
        if signals.any_listeners():
            run.add_listener(signals.SignalBridge(self, run))
        return run.start(background=background)

    def draw_ascii_graph(self) -> None:
        """Print the flow as text (see `pointy_engine.drawing.ascii_graph`)."""
        print(ascii_graph(self.graph()))

    def draw_graphviz_image(self, directory: str | Path = ".", format: str = "png") -> Path:
        """Write the flow as an image with Graphviz; return its path."""
        return render_graphviz(self.graph(), directory, format, type(self).__name__)


def __getattr__(name: str) -> Any:
    # `from pointy_engine.pipeline import BatchPipeline` (the seed's path); batch.py builds on
    # this module, so it is imported on first use rather than at the top.
    if name == "BatchPipeline":
        from .batch import BatchPipeline

        return BatchPipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
