"""Errors for states the engine cannot reason about (a refusal is a Decision, not an error)."""

from __future__ import annotations


class CreditgateError(Exception):
    """Base class; `field` names the input at fault when there is one."""

    field: str | None = None


class UnknownCurrency(CreditgateError):
    field = "currency"

    def __init__(self, code: str) -> None:
        super().__init__(f"{code!r} is not an ISO 4217 currency code")
        self.code = code


class InvalidAmount(CreditgateError):
    field = "amount"


class CurrencyRateMissing(CreditgateError):
    """No configured rate between two currencies; the gate refuses to guess one."""

    field = "currency"

    def __init__(self, currency: str, reference: str) -> None:
        super().__init__(
            f"no exchange rate configured for {currency} (rates are against {reference}); "
            f"add it under [rates] in the file named by CREDITGATE_CONFIG"
        )
        self.currency = currency


class OrderNotFound(CreditgateError):
    field = "order_id"

    def __init__(self, source: str, order_id: str) -> None:
        super().__init__(f"no order {order_id!r} has been gated for source {source!r}")


class CustomerNotFound(CreditgateError):
    field = "customer_id"

    def __init__(self, source: str, customer_id: str) -> None:
        super().__init__(f"no customer {customer_id!r} in source {source!r}")


class SourceNotFound(CreditgateError):
    field = "source"

    def __init__(self, source: str) -> None:
        super().__init__(f"no source named {source!r}; `creditgate sources list` shows them")


class DecisionNotFound(CreditgateError):
    field = "decision_id"

    def __init__(self, decision_id: str) -> None:
        super().__init__(f"no decision {decision_id!r}")


class GateUnavailable(CreditgateError):
    """The store could not answer in time (down, locked, timed out)."""


class Conflict(CreditgateError):
    """A concurrent request changed the same record first; retrying is safe."""


class TargetUnavailable(CreditgateError):
    """A push target cannot take a change now (down, timing out, rate-limited): try later.

    `retry_after` is the wait in seconds the target asked for (HTTP Retry-After), if it did."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TargetRejected(CreditgateError):
    """A push target refused a change (unknown customer, invalid field): retrying cannot help."""


class SourceNotGranted(CreditgateError):
    """A client asked to act for a source its key was not granted (a 403, not a 422)."""

    field = "source"

    def __init__(self, source: str, home: str) -> None:
        super().__init__(
            f"this API key acts for source {home!r}, not {source!r}; a key for several sources "
            f"is made with `creditgate apikey create --sources`"
        )
        self.source = source
