"""Input fields of a pipeline: declared on the class, validated when it is built."""

from __future__ import annotations

from collections.abc import Sized
from pathlib import Path
from typing import Any

from .errors import PointyError

_EMPTY: Any = type("EMPTY", (), {"__repr__": lambda self: "EMPTY"})()


class InputDataField:
    """A value the pipeline takes as input and hands to events by parameter name.

    `data_type` is a type or a tuple of types; `batch_size` splits a list for `BatchPipeline`.
    """

    def __init__(
        self,
        name: str | None = None,
        data_type: type | tuple[type, ...] = object,
        default: Any = _EMPTY,
        required: bool = False,
        batch_size: int | None = None,
    ) -> None:
        self.name = name
        self.data_type = data_type if isinstance(data_type, tuple) else (data_type,)
        self.default = default
        self.required = required
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise PointyError(f"batch_size must be a whole number >= 1, not {batch_size!r}")
        self.batch_size = batch_size

    def __set_name__(self, owner: type, name: str) -> None:
        if self.name is None:
            self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance.__dict__.get("_inputs", {}).get(self.name, self.default_value())

    def default_value(self) -> Any:
        return None if self.default is _EMPTY else self.default

    @property
    def splits(self) -> bool:
        """Whether `BatchPipeline` splits this field's value into batches."""
        return self.batch_size is not None

    def split(self, value: Any) -> list[Any]:
        """The value cut into pieces of `batch_size` items, in order (see `BatchPipeline`)."""
        size = self.batch_size or 1
        if isinstance(value, (str, bytes)) or not isinstance(value, Sized):
            raise PointyError(
                f"input field {self.name!r} cannot be split into batches: "
                f"{type(value).__name__} is not a sized collection"
            )
        try:
            items = list(value)
        except TypeError:
            raise PointyError(
                f"input field {self.name!r} cannot be split into batches: "
                f"{type(value).__name__} is not iterable"
            ) from None
        return [items[start : start + size] for start in range(0, len(items), size)]

    @property
    def has_default(self) -> bool:
        return self.default is not _EMPTY

    def _type_names(self) -> str:
        return " or ".join(kind.__name__ for kind in self.data_type)

    def validate(self, value: Any) -> Any:
        """The value to hand to events, or a PointyError naming this field."""
        if value is None:
            if self.required:
                raise PointyError(f"input field {self.name!r} is required")
            return None
        if object not in self.data_type and not isinstance(value, self.data_type):
            raise PointyError(
                f"input field {self.name!r} expects {self._type_names()}, got "
                f"{type(value).__name__} {_short(value)}"
            )
        return value


class FileInputDataField(InputDataField):
    """A path to an existing file; `chunk_size` splits it for `BatchPipeline`.

    With `mode="r"` (text, the default) a chunk is `chunk_size` lines, joined as one str; with
    `mode="rb"` a chunk is `chunk_size` bytes. Each batch's event receives its chunk's content.
    """

    def __init__(
        self,
        name: str | None = None,
        required: bool = False,
        chunk_size: int | None = None,
        mode: str = "r",
        default: Any = _EMPTY,
    ) -> None:
        super().__init__(name=name, data_type=(str, Path), default=default, required=required)
        if chunk_size is not None and (
            isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
        ):
            raise PointyError(f"chunk_size must be a whole number >= 1, not {chunk_size!r}")
        if mode not in ("r", "rb"):
            raise PointyError(
                f"FileInputDataField mode is 'r' (text) or 'rb' (binary), not {mode!r}"
            )
        self.chunk_size = chunk_size
        self.mode = mode

    @property
    def splits(self) -> bool:
        return self.chunk_size is not None

    def split(self, value: Any) -> list[Any]:
        """The file's content in chunks: `chunk_size` lines (text) or bytes (binary)."""
        size = self.chunk_size or 1
        path = Path(value)
        if self.mode == "rb":
            data = path.read_bytes()
            return [data[start : start + size] for start in range(0, len(data), size)]
        with path.open(encoding="utf-8") as handle:
            lines = handle.readlines()
        return ["".join(lines[start : start + size]) for start in range(0, len(lines), size)]

    def validate(self, value: Any) -> Any:
        value = super().validate(value)
        if value is None:
            return None
        path = Path(value)
        if not path.is_file():
            raise PointyError(f"input field {self.name!r}: no file at {str(path)!r}")
        return path


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def collect_fields(cls: type) -> dict[str, InputDataField]:
    """The fields of a class and its bases; a subclass's field of the same name wins."""
    found: dict[str, InputDataField] = {}
    for klass in reversed(cls.__mro__):
        for attribute, value in vars(klass).items():
            if isinstance(value, InputDataField):
                found[value.name or attribute] = value
    return found


def validate_inputs(
    owner: str, fields: dict[str, InputDataField], inputs: dict[str, Any]
) -> dict[str, Any]:
    """Every field's value (given, default, or None), checked; all problems in one error."""
    problems = []
    unknown = sorted(set(inputs) - set(fields))
    if unknown:
        known = ", ".join(fields) or "none"
        problems.append(f"unknown input {unknown[0]!r} (fields: {known})")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        value = inputs[name] if name in inputs else field.default_value()
        try:
            values[name] = field.validate(value)
        except PointyError as error:
            problems.append(str(error))
    if problems:
        raise PointyError(f"{owner}: " + "; ".join(problems))
    return values
