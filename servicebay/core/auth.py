"""Sign-in with a brake on password guessing.

Failures are counted per username and per client address in the shared cache (a file cache on
one machine, Redis for a chain). Past the limit the form answers 429 with an inline message until
the window passes; a successful sign-in clears the username's count.
"""

from __future__ import annotations

import hashlib

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
WINDOW_SECONDS = 15 * 60


def _key(kind: str, value: str) -> str:
    return f"login-fail:{kind}:{hashlib.sha256(value.lower().encode()).hexdigest()[:32]}"


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _failures(key: str) -> int:
    return cache.get(key, 0)


def _count_failure(key: str) -> None:
    if not cache.add(key, 1, WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, WINDOW_SECONDS)


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def _keys(self) -> tuple[str, str]:
        username = self.request.POST.get("username", "")
        return _key("user", username), _key("addr", _client_address(self.request))

    def _blocked(self) -> bool:
        user_key, addr_key = self._keys()
        return (
            _failures(user_key) >= MAX_FAILURES_PER_USER
            or _failures(addr_key) >= MAX_FAILURES_PER_ADDRESS
        )

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if self._blocked():
            form = self.get_form_class()(request, data={"username": request.POST.get("username", "")})
            form._errors = {}  # do not authenticate at all while blocked
            form.cleaned_data = {}
            form.add_error(
                None,
                "Too many failed sign-ins. Wait 15 minutes or ask a manager to reset your password.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in self._keys():
            _count_failure(key)
        return super().form_invalid(form)

    def form_valid(self, form):
        cache.delete(self._keys()[0])
        return super().form_valid(form)
