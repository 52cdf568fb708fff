"""``servicebay apikey create|list|revoke``: manage the keys machines use for the JSON API."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from servicebay.core.errors import DomainError
from servicebay.core.models import KEY_PREFIX
from servicebay.core.roles import SCOPES
from servicebay.core.selectors import api_key_get_by_prefix, api_key_list
from servicebay.core.services import api_key_create, api_key_revoke


class Command(BaseCommand):
    help = "Create, list and revoke API keys. A new key is printed once and never again."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = actions.add_parser("create", help="Create a key and print it once.")
        create.add_argument("name", help="Who or what uses the key, e.g. 'Mailchimp sync'.")
        create.add_argument(
            "--scope", action="append", dest="scopes", default=[], metavar="SCOPE",
            help=f"Repeat for several. One of: {', '.join(sorted(SCOPES))}.",
        )
        listing = actions.add_parser("list", help="List keys (prefix, name, scopes, last use).")
        listing.add_argument("--active", action="store_true", help="Leave revoked keys out.")
        revoke = actions.add_parser("revoke", help="Revoke a key by its prefix.")
        revoke.add_argument("prefix", help=f"The key's prefix, e.g. 1a2b3c4d or {KEY_PREFIX}_1a2b3c4d.")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "create":
            self._create(options["name"], options["scopes"])
        elif action == "list":
            self._list(active_only=options["active"])
        else:
            self._revoke(options["prefix"])

    def _create(self, name: str, scopes: list[str]) -> None:
        try:
            key, plaintext = api_key_create(name=name, scopes=scopes)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(plaintext)
        self.stderr.write(
            f"Key {KEY_PREFIX}_{key.prefix} ({', '.join(key.scopes)}) created. "
            "Copy it now: it will not be shown again."
        )

    def _list(self, *, active_only: bool) -> None:
        keys = list(api_key_list(include_revoked=not active_only))
        if not keys:
            self.stdout.write("No API keys.")
            return
        self.stdout.write(f"{'PREFIX':<12} {'NAME':<30} {'SCOPES':<24} {'LAST USED':<17} STATUS")
        for key in keys:
            last_used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            status = "active" if key.is_active else f"revoked {key.revoked_at:%Y-%m-%d}"
            self.stdout.write(
                f"{KEY_PREFIX + '_' + key.prefix:<12} {key.name[:30]:<30} "
                f"{','.join(key.scopes)[:24]:<24} {last_used:<17} {status}"
            )

    def _revoke(self, prefix: str) -> None:
        key = api_key_get_by_prefix(prefix=prefix)
        if key is None:
            raise CommandError(f"No API key with prefix {prefix!r}; see 'servicebay apikey list'.")
        if not key.is_active:
            raise CommandError(f"Key {KEY_PREFIX}_{key.prefix} ({key.name}) is already revoked.")
        api_key_revoke(key=key)
        self.stdout.write(f"Revoked {KEY_PREFIX}_{key.prefix} ({key.name}).")
