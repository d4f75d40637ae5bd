"""Retry policy: an immutable value with pure methods. Attempt history belongs to the run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import PointyError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """At most `max_attempts` attempts; before attempt n (n >= 2) wait
    `min(backoff_factor * 2 ** (n - 2), max_backoff)` seconds. An empty `retry_on_exceptions`
    retries every exception; otherwise only instances of the listed types."""

    max_attempts: int = 1
    backoff_factor: float = 0.0
    max_backoff: float = 60.0
    retry_on_exceptions: tuple[type[BaseException], ...] = field(default=())

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise PointyError(f"RetryPolicy.max_attempts must be an int, not {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise PointyError(
                f"RetryPolicy.max_attempts must be at least 1, not {self.max_attempts}"
            )
        for name in ("backoff_factor", "max_backoff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise PointyError(f"RetryPolicy.{name} must be a number >= 0, not {value!r}")
        kinds = self.retry_on_exceptions
        if isinstance(kinds, type):
            kinds = (kinds,)
        kinds = tuple(kinds)
        for kind in kinds:
            if not (isinstance(kind, type) and issubclass(kind, BaseException)):
                raise PointyError(
                    f"RetryPolicy.retry_on_exceptions must hold exception classes, not {kind!r}"
                )
        object.__setattr__(self, "retry_on_exceptions", kinds)

    @classmethod
    def coerce(cls, value: RetryPolicy | Mapping[str, Any] | None) -> RetryPolicy:
        """A policy from a policy, a dict with the same keys, or None (one attempt)."""
        if value is None:
            return NO_RETRY
        if isinstance(value, RetryPolicy):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(cls.__dataclass_fields__))
            if unknown:
                known = ", ".join(cls.__dataclass_fields__)
                raise PointyError(f"unknown retry policy key {unknown[0]!r}; known keys: {known}")
            return cls(**value)
        raise PointyError(f"a retry policy is a RetryPolicy or a dict, not {type(value).__name__}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before `attempt` (the first attempt never waits)."""
        if attempt < 2:
            return 0.0
        return min(self.backoff_factor * 2 ** (attempt - 2), self.max_backoff)

    def should_retry(
        self, error: BaseException, attempt: int, max_attempts: int | None = None
    ) -> bool:
        """Whether a failure of `attempt` with `error` earns another attempt."""
        limit = self.max_attempts if max_attempts is None else max_attempts
        if attempt >= limit:
            return False
        kinds = self.retry_on_exceptions
        return not kinds or isinstance(error, kinds)

    def with_max_attempts(self, max_attempts: int) -> RetryPolicy:
        return RetryPolicy(
            max_attempts, self.backoff_factor, self.max_backoff, self.retry_on_exceptions
        )


NO_RETRY = RetryPolicy()
