"""Writes for cross-cutting objects: API keys."""

from __future__ import annotations

import hmac

from django.db import transaction
from django.utils import timezone

from .errors import DomainError
from .models import KEY_PREFIX, ApiKey, hash_secret
from .roles import SCOPES


class UnknownScope(DomainError):
    pass


@transaction.atomic
def api_key_create(*, name: str, scopes: list[str], created_by=None) -> tuple[ApiKey, str]:
    """Create a key with the given scopes; returns the model and the one-time plaintext key."""
    name = name.strip()
    if not name:
        raise DomainError("A key needs a name.", field="name")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise UnknownScope(
            f"Unknown or missing scope {', '.join(unknown) or '(none)'}; choose from "
            f"{', '.join(sorted(SCOPES))}.",
            field="scopes",
        )
    full, prefix, digest = ApiKey.generate_secret()
    key = ApiKey.objects.create(
        name=name, prefix=prefix, key_hash=digest, scopes=sorted(set(scopes)), created_by=created_by
    )
    return key, full


def api_key_authenticate(token: str) -> ApiKey | None:
    """The active key matching ``token``, or None. Constant-time comparison of the hash."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = ApiKey.objects.active().filter(prefix=parts[1]).first()
    if key is None or not hmac.compare_digest(key.key_hash, hash_secret(token)):
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Stop a key from working; revoking twice keeps the first revocation time."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key
