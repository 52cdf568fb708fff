"""Loyalty's domain errors; servicebay/api.py and core.views map them to 4xx answers and forms."""

from servicebay.core.errors import Conflict, DomainError


class PointsOverdraw(DomainError):
    """A redemption or adjustment would take the balance below zero."""


class NoActiveProgram(DomainError):
    """No active loyalty program covers this job card's currency."""


class LedgerIsAppendOnly(Conflict):
    """Someone tried to change or delete a ledger row (or a rule version): add a new row instead."""

    def __init__(self, what: str = "Loyalty ledger rows"):
        super().__init__(f"{what} cannot be changed or deleted; record a new row instead.")


class InvalidQuery(DomainError):
    """A URL parameter that parsed but makes no sense (a date no database can store)."""

    location = "query"
