"""One error vocabulary for every channel; the dispatcher decides retry or fail from the class.

    SendError(retryable)
     ├── Throttled(retry_after)   provider asked us to wait: retry exactly then
     ├── Transient                network error, 5xx: retry with backoff
     ├── Unreachable              the person blocked us or opted out: stop
     │    └── Unsubscribed        they opted out on the provider (Twilio 21610): also marked opted out
     ├── Held                     not sendable now (outside WhatsApp's window, no template): kept for admins
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


class Unsubscribed(Unreachable):
    """The provider says the person opted out (Twilio 21610): as `Unreachable`, and remembered."""

    def __init__(self, reason: str = "", *, code: str | int | None = None) -> None:
        super().__init__(reason)
        self.code = code


class Held(SendError):
    """The message may not be sent as it is (e.g. outside WhatsApp's 24-hour window with no
    approved template): the row becomes `held`, visible to admins, never silently dropped."""

    retryable = False


class Rejected(SendError):
    retryable = False

    def __init__(self, code: str | int, reason: str = "") -> None:
        super().__init__(reason)
        self.code = code
