"""The original library's `signal` package path: `SoftSignal` and the default signals."""

from ..signals import SoftSignal, listener
from . import signals

__all__ = ["SoftSignal", "listener", "signals"]
