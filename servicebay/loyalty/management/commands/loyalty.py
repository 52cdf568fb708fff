"""``servicebay loyalty verify | expire | tiers``: audit and upkeep of the points ledger."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from servicebay.loyalty import selectors, services


class Command(BaseCommand):
    help = "Loyalty ledger upkeep: verify balances against the ledger, expire points, refresh tiers."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{verify,expire,tiers}")
        sub.add_parser(
            "verify",
            help="Check that every balance equals the sum of its ledger rows; exit 1 on any drift.",
        )
        sub.add_parser("expire", help="Expire due points (FIFO lots) as ledger rows.")
        tiers = sub.add_parser("tiers", help="Re-evaluate the tiers of a program's members.")
        tiers.add_argument("--program", type=int, required=True, help="Program id.")

    def handle(self, *args, action: str, **options):
        if action == "verify":
            return self._verify()
        if action == "expire":
            rows = services.points_expire_due()
            self.stdout.write(f"Expired points on {rows} balance(s).")
            return None
        program = selectors.program_list().filter(pk=options["program"]).first()
        if program is None:
            raise CommandError(f"There is no loyalty program {options['program']}.")
        changed = services.tiers_refresh(program=program)
        self.stdout.write(f"{changed} member(s) changed tier in {program.name}.")
        return None

    def _verify(self) -> None:
        drifts = 0
        for drift in selectors.balance_drifts():
            drifts += 1
            self.stderr.write(f"drift: {drift}")
        if drifts:
            raise CommandError(f"{drifts} balance(s) do not match their ledger.", returncode=1)
        self.stdout.write("All balances match their ledgers.")
