"""The original library's `decorators` module path: `@event` and `@listener`, re-exported."""

from .events import event
from .signals import listener

__all__ = ["event", "listener"]
