"""Who is calling the API, and may they do this.

Browsers use their session (CSRF enforced on unsafe methods); machines send
``Authorization: Bearer sb_…``. Endpoints call ``require(request, "<permission>")``.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from .actors import Actor
from .models import ApiKey
from .roles import scopes_grant, user_can
from .services import api_key_authenticate


class ApiKeyAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return api_key_authenticate(token)


API_AUTH = [ApiKeyAuth(), SessionAuth()]


def principal_can(request: HttpRequest, permission: str) -> bool:
    principal = getattr(request, "auth", None)
    if isinstance(principal, ApiKey):
        return scopes_grant(principal.scopes, permission)
    return principal is not None and user_can(principal, permission)


def require(request: HttpRequest, permission: str) -> None:
    if not principal_can(request, permission):
        raise HttpError(403, f"This needs the '{permission}' permission.")


def actor_of(request: HttpRequest) -> Actor:
    """Who to record as the author of a change: a user or an API key."""
    principal = getattr(request, "auth", None)
    if isinstance(principal, ApiKey):
        return Actor(label=f"apikey:{principal.prefix}")
    return Actor.for_user(principal)
