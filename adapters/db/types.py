"""Column types: exact money on every database, and timezone-aware UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

SCALE = 4
_FACTOR = Decimal(10) ** SCALE
_CENT = Decimal("0.01")


def _tidy(value: Decimal) -> Decimal:
    """Show whole cents as cents ("12.50", not "12.5000"); keep finer amounts as they are."""
    cents = value.quantize(_CENT)
    return cents if cents == value else value.normalize()


class Money(TypeDecorator[Decimal]):
    """A Decimal amount, exact everywhere.

    PostgreSQL keeps NUMERIC(20, 4). SQLite has no exact decimal type (its NUMERIC is a float and
    SQLAlchemy warns about it), so there the amount is an integer count of 1/10,000 units, which
    keeps SUM() and comparisons exact in SQL. Four places cover every ISO 4217 currency.
    """

    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal, never float")
        value = Decimal(value)
        if dialect.name == "sqlite":
            scaled = value * _FACTOR
            if scaled != scaled.to_integral_value():
                raise ValueError(f"{value} has more than {SCALE} decimal places")
            return int(scaled)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return _tidy(Decimal(int(value)) / _FACTOR)
        return _tidy(Decimal(value))


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone (SQLite cannot keep one) and hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        return stored.replace(tzinfo=UTC)
