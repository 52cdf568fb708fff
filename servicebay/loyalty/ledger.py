"""Which earned points are still there: a replay of one balance's ledger as FIFO lots.

The ledger is append-only, so lots are not stored with a mutable "remaining" column; they are
recomputed from the rows whenever needed (expiry, the customer panel). Every credit opens a lot;
every debit consumes the lots closest to expiry first, except that a reversal takes back the very
lot it reverses and a restored redemption puts points back into the lots they came from. An expiry
row consumes exactly the lots that were due when it was written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class LedgerRow:
    id: int
    type: str
    points: int
    created_at: datetime
    expires_at: datetime | None = None
    reverses_id: int | None = None


@dataclass
class Lot:
    source_id: int
    points: int
    remaining: int
    expires_at: datetime | None
    created_at: datetime


@dataclass
class Lots:
    lots: dict[int, Lot] = field(default_factory=dict)
    allocations: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def open(self) -> list[Lot]:
        return [lot for lot in self.lots.values() if lot.remaining > 0]

    def due(self, now: datetime) -> list[Lot]:
        """Lots whose points have expired by ``now`` and are still unspent, soonest first."""
        due = [lot for lot in self.open() if lot.expires_at is not None and lot.expires_at <= now]
        return sorted(due, key=lambda lot: (lot.expires_at, lot.source_id))

    def next_expiry(self) -> datetime | None:
        dates = [lot.expires_at for lot in self.open() if lot.expires_at is not None]
        return min(dates) if dates else None

    def expiring_by(self, when: datetime) -> int:
        return sum(lot.remaining for lot in self.open() if lot.expires_at and lot.expires_at <= when)

    def total(self) -> int:
        return sum(lot.remaining for lot in self.lots.values())

    def consumed_by(self, row_id: int) -> list[tuple[int, int]]:
        return self.allocations.get(row_id, [])

    def _fifo(self) -> list[Lot]:
        return sorted(
            self.open(),
            key=lambda lot: (lot.expires_at is None, lot.expires_at or lot.created_at, lot.source_id),
        )

    def _take(self, row_id: int, need: int, candidates: Iterable[Lot]) -> int:
        taken = self.allocations.setdefault(row_id, [])
        for lot in candidates:
            if need <= 0:
                break
            n = min(need, lot.remaining)
            if n <= 0:
                continue
            lot.remaining -= n
            need -= n
            taken.append((lot.source_id, n))
        return need

    def apply(self, row: LedgerRow) -> None:
        if row.points > 0:
            self._credit(row)
        elif row.points < 0:
            self._debit(row)

    def _credit(self, row: LedgerRow) -> None:
        left = row.points
        for lot_id, n in self.allocations.get(row.reverses_id or 0, []):
            back = min(n, left)
            self.lots[lot_id].remaining += back
            left -= back
        if left > 0:
            self.lots[row.id] = Lot(row.id, left, left, row.expires_at, row.created_at)

    def _debit(self, row: LedgerRow) -> None:
        need = -row.points
        if row.type == "expire":
            need = self._take(row.id, need, self.due(row.created_at))
        own = self.lots.get(row.reverses_id or 0)
        if own is not None:
            need = self._take(row.id, need, [own])
        self._take(row.id, need, self._fifo())


def lots_replay(rows: Iterable[LedgerRow]) -> Lots:
    """Replay rows in ledger order (id) into lots."""
    lots = Lots()
    for row in sorted(rows, key=lambda r: r.id):
        lots.apply(row)
    return lots
