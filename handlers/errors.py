"""One error vocabulary for every channel; the dispatcher decides retry or fail from the class.

    SendError(retryable)
     ├── Throttled(retry_after)   provider asked us to wait: retry exactly then
     ├── Transient                network error, 5xx: retry with backoff
     ├── Unreachable              the person blocked us or opted out: stop
     └── Rejected(code, reason)   the provider refused this message: do not retry
"""

from __future__ import annotations


class SendError(Exception):
    retryable: bool = False

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class Throttled(SendError):
    retryable = True

    def __init__(self, retry_after: float, reason: str = "throttled") -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Transient(SendError):
    retryable = True


class Unreachable(SendError):
    retryable = False


class Rejected(SendError):
    retryable = False

    def __init__(self, code: str | int, reason: str = "") -> None:
        super().__init__(reason)
        self.code = code
