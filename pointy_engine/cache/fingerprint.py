"""Cache keys: a digest of an event's code and of the values it receives.

What the code digest sees, for a function (an `@event`, a plain callable, each function in an
`EventBase` subclass's own namespace and its bases' up to `EventBase`):
- its bytecode, constants (nested functions' and lambdas' code too), names and argument names;
- its defaults and keyword-only defaults, and the values in its closure cells;
- the code of every module-level function it names that is defined in the same module (a
  notebook's cells are one module, `__main__`), followed transitively;
- for a class, its own non-function class attributes (settings such as `timeout`).
What it does not see: global variables that are not functions, functions from other modules
(a library's code, an import), and anything read through attributes at run time (`self.x` set
in `__init__`, `obj.method`). A change there does not invalidate a cached result.

Values are hashed with xxh3-128 over their pickle (protocol 5, cloudpickle for what pickle
cannot take) with out-of-band buffers hashed in place, so a numpy array or a DataFrame's
blocks are never copied. A value that cannot be pickled has no digest: `None`, not an error.
"""

from __future__ import annotations

import io
import pickle
import types
from typing import Any

import xxhash

from ..events import EventBase, FunctionEvent


class NotCacheable(Exception):
    """A value or a piece of code that cannot be part of a cache key; the message says which."""


def value_digest(value: Any) -> bytes:
    """A stable digest of `value`; `NotCacheable` when it cannot be serialized."""
    hasher = xxhash.xxh3_128()
    _feed_value(hasher, value)
    return hasher.digest()


def _feed_value(hasher: Any, value: Any) -> None:
    kind = type(value)
    if kind is bytes or kind is str or kind is int or kind is float or value is None:
        hasher.update(repr(value).encode() if kind is not bytes else value)
        hasher.update(kind.__name__.encode())
        return
    module = kind.__module__
    if module == "numpy" and kind.__name__ == "ndarray" and not value.dtype.hasobject:
        # The fast path: the array's memory, as it is, plus what gives it meaning.
        hasher.update(f"ndarray{value.dtype.str}{value.shape}".encode())
        hasher.update(memoryview(value if value.flags.c_contiguous else value.copy()).cast("B"))
        return
    buffers: list[pickle.PickleBuffer] = []
    try:
        data = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    except Exception:
        buffers.clear()
        try:
            import cloudpickle  # lazily: only values plain pickle refuses need it

            stream = io.BytesIO()
            cloudpickle.Pickler(stream, protocol=5, buffer_callback=buffers.append).dump(value)
            data = stream.getvalue()
        except Exception as error:
            raise NotCacheable(f"{kind.__name__} value cannot be pickled ({error})") from None
    hasher.update(data)
    for buffer in buffers:  # numpy / pandas / pyarrow memory, hashed without a copy
        view = buffer.raw()
        hasher.update(view)


def code_digest(event: Any) -> bytes:
    """The digest of an event's code (see the module docstring for what is seen)."""
    hasher = xxhash.xxh3_128()
    seen: set[int] = set()
    if isinstance(event, type):
        for cls in event.__mro__:
            if cls is EventBase or cls is object:
                break
            hasher.update(cls.__qualname__.encode())
            for name, member in sorted(vars(cls).items()):
                if name.startswith("__") and name not in ("__init__", "__call__"):
                    continue
                hasher.update(name.encode())
                function = getattr(member, "__func__", member)  # static/class methods
                if isinstance(function, types.FunctionType):
                    _feed_function(hasher, function, seen)
                else:
                    _feed_value(hasher, member)
        return hasher.digest()
    if isinstance(event, FunctionEvent):
        _feed_value(hasher, event.event_settings)
        event = event.function
    if isinstance(event, types.FunctionType):
        _feed_function(hasher, event, seen)
    else:  # a partial, a callable instance: its pickled state stands for its code
        _feed_value(hasher, event)
    return hasher.digest()


def _feed_function(hasher: Any, function: types.FunctionType, seen: set[int]) -> None:
    if id(function) in seen:
        return
    seen.add(id(function))
    code = function.__code__
    _feed_code(hasher, code)
    for default in (function.__defaults__, function.__kwdefaults__):
        _feed_value(hasher, default)
    for cell in function.__closure__ or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell (a name assigned later)
            continue
        if isinstance(contents, types.FunctionType):
            _feed_function(hasher, contents, seen)
        else:
            _feed_value(hasher, contents)
    module = function.__module__
    namespace = function.__globals__
    for name in _global_names(code):
        called = namespace.get(name)
        if isinstance(called, FunctionEvent):
            called = called.function
        if isinstance(called, types.FunctionType) and called.__module__ == module:
            hasher.update(name.encode())
            _feed_function(hasher, called, seen)


def _feed_code(hasher: Any, code: types.CodeType) -> None:
    hasher.update(code.co_code)
    hasher.update(repr((code.co_names, code.co_varnames, code.co_argcount)).encode())
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            _feed_code(hasher, constant)
        else:
            hasher.update(repr(constant).encode())


def _global_names(code: types.CodeType) -> list[str]:
    names = list(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names.extend(_global_names(constant))
    return names
