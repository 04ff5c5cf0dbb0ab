"""Source ports: what a sync needs from an ERP, CRM or file export, in the domain's terms."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, Protocol, TypeVar, runtime_checkable

from gating.records import CustomerData, GroupData, InvoiceData, PaymentData, RecordError

T = TypeVar("T")
Entity = Literal["groups", "customers", "invoices", "payments"]
# In this order: a customer's group, and an invoice's customer, land before what refers to them.
ENTITIES: tuple[Entity, ...] = ("groups", "customers", "invoices", "payments")


@dataclass(frozen=True)
class Watermark:
    """How far a sync has read: the source's own change time of the last record, then its id.

    Taken from the records returned, never from the local clock, so clock skew between us and
    the source cannot skip a change. Not ordered: `last_id` is the source's own id, and only the
    source knows how its ids sort.
    """

    changed_at: datetime
    last_id: str


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of changed records, the records that could not be mapped, and the watermark
    to store once this page is committed (None when the page is empty)."""

    records: Sequence[T]
    errors: Sequence[RecordError] = field(default=())
    watermark: Watermark | None = None


class SourceAdapter(Protocol):
    """A source's records changed after `since` (everything when None), oldest change first.

    Invoices carry credit notes as negative totals; an invoice or payment cancelled or deleted
    at the source comes back with its open/unapplied amount at zero so it leaves exposure.
    Implementations page through the source and never hold more than one page in memory.
    """

    kind: str

    def groups(self, since: Watermark | None) -> Iterator[Page[GroupData]]: ...

    def customers(self, since: Watermark | None) -> Iterator[Page[CustomerData]]: ...

    def invoices(self, since: Watermark | None) -> Iterator[Page[InvoiceData]]: ...

    def payments(self, since: Watermark | None) -> Iterator[Page[PaymentData]]: ...

    def close(self) -> None: ...


@runtime_checkable
class RechecksInvoices(Protocol):
    """Optional beside SourceAdapter: a source that can say which invoices are open at it now,
    and read given invoices again one by one.

    A watermark finds what changed, never what was deleted, and misses what changed without
    moving its change time. So after a complete read of invoices the sync asks the store for
    the invoices it holds as open for this source, and has the source read again those it did
    not list as open (sync/engine.py). Sources that cannot tell do not implement this.
    """

    def open_invoice_refs(self) -> Collection[str] | None:
        """Once `invoices()` has been read to its end: the ref of every invoice it listed as
        open at the source (those not listed are read again); None when that read did not list
        every open invoice, and then nothing is read again."""
        ...

    def recheck_invoices(self, held: Sequence[InvoiceData]) -> Page[InvoiceData]:
        """Each of `held` (as the store holds it) as the source has it now: deleted or gone
        from the source, it comes back cancelled. The page has no watermark.

        A held record is only an address and a shape (an invoice in instalments comes as its
        first row, without them): never hand one back as it is except cancelled; anything
        else comes from what the source answers now.

        Raises what `invoices()` raises when the source fails.
        """
        ...
