"""``servicebay seed``: fill an empty database with a deterministic demo or benchmark history."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from servicebay.core.errors import DomainError
from servicebay.demo import services
from servicebay.demo.consent import demo_consent_import
from servicebay.segments.services.stats import customer_stats_rebuild
from servicebay.shop.models import Customer


def _whole_number(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw.replace("_", "").replace(",", ""))
    except ValueError:
        raise CommandError(f"{name} must be a whole number, not {raw!r}.") from None
    if not low <= value <= high:
        raise CommandError(f"{name} must be between {low:,} and {high:,}, not {value:,}.")
    return value


def _as_of(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"--as-of must be an ISO date or date-time, not {raw!r}.") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Command(BaseCommand):
    help = (
        "Load a deterministic demo history: shops in several time zones, a service and parts "
        "catalog, customers with vehicles, five years of appointments, job cards, notes and "
        "activity events, a loyalty programme per currency with each member's points history "
        "(earns, redemptions, expiries, adjustments, tiers), and bookings for the next two weeks. "
        "The same --seed gives the same "
        "data. Unless --no-users, creates one demo login per role (advisor, technician, manager, "
        f"marketing, admin), all with the password '{services.DEMO_PASSWORD}'; admin is a "
        "superuser."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customers", default="200", metavar="N",
                            help="How many customers to create (default 200).")
        parser.add_argument("--seed", default="42", metavar="S",
                            help="Random seed; the same seed gives the same data (default 42).")
        parser.add_argument("--if-empty", action="store_true",
                            help="If the database already has customers, say so and exit 0.")
        parser.add_argument("--users", action=argparse.BooleanOptionalAction, default=True,
                            help="Create the demo logins (default: yes).")
        parser.add_argument("--as-of", default=None, metavar="WHEN",
                            help="The data's 'now' (ISO date-time, UTC if no offset); default: now.")

    def handle(self, *args, **options) -> None:
        customers = _whole_number("--customers", str(options["customers"]), 1, services.MAX_CUSTOMERS)
        seed = _whole_number("--seed", str(options["seed"]), 0, 2**63 - 1)
        as_of = _as_of(options["as_of"])
        if Customer.objects.exists():
            if options["if_empty"]:
                self.stdout.write("already seeded, skipping")
                return
            raise CommandError("The database already has customers; seed an empty database "
                               "(or pass --if-empty to skip).")
        console = Console(stderr=True)
        progress = Progress(
            TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TextColumn("customers"),
            TimeElapsedColumn(), console=console, disable=not console.is_terminal,
        )
        with progress:
            task = progress.add_task("seed", total=customers)
            try:
                report = services.demo_seed(
                    customers=customers, seed=seed, as_of=as_of, with_users=options["users"],
                    on_progress=lambda n: progress.advance(task, n),
                )
            except DomainError as exc:
                raise CommandError(str(exc)) from exc
            # The bulk load bypasses the services, so derived tables are rebuilt from the rows.
            stats = progress.add_task("segment stats", total=customers)
            customer_stats_rebuild(progress=lambda n: progress.advance(stats, n))
            consent = progress.add_task("consent", total=customers)
            demo_consent_import(seed=seed, progress=lambda n: progress.advance(consent, n))
        counts = ", ".join(f"{table.replace('_', ' ')} {count:,}" for table, count in report.rows.items())
        self.stdout.write(
            f"Seeded {report.customers:,} customers at {report.locations} locations in "
            f"{report.seconds:.1f} s ({report.total_rows:,} rows, {report.rows_per_second:,.0f} rows/s)."
        )
        self.stdout.write(counts)
        if options["users"]:
            names = ", ".join(str(role) for role, _, _ in services.DEMO_STAFF)
            self.stdout.write(f"Demo logins: {names} — password '{services.DEMO_PASSWORD}'.")
