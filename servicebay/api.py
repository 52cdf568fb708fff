"""The JSON API: one NinjaAPI under /api/v1 that mounts every app's router."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import DataError, IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.errors import ValidationError as RequestValidationError

from servicebay.core.api_auth import API_AUTH
from servicebay.core.api_parser import StrictParser
from servicebay.core.errors import DomainError, django_validation_detail
from servicebay.core.pagination import InvalidCursor

api = NinjaAPI(
    title="ServiceBay API",
    version="1",
    description=(
        "Customers, vehicles, appointments, job cards and the engagement features of ServiceBay. "
        "Authenticate with a session (browser) or `Authorization: Bearer <api key>`. Lists are "
        "keyset-paginated: pass the `next_cursor` you received as `cursor`."
    ),
    auth=API_AUTH,
    parser=StrictParser(),
    urls_namespace="api",
    # The schema and the docs page are for signed-in staff too; machines get the spec from us.
    docs_decorator=login_required,
)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return api.create_response(request, {"detail": exc.as_detail()}, status=exc.status_code)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Ninja turns any failure of the body parser into a 400; the parser's own refusals (a NUL in a
    # text field) are field-level validation errors and answer 422 like every other.
    if isinstance(exc.__cause__, RequestValidationError):
        return api.create_response(request, {"detail": exc.__cause__.errors}, status=422)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(InvalidCursor)
def on_invalid_cursor(request: HttpRequest, exc: InvalidCursor) -> HttpResponse:
    return api.create_response(request, {"detail": exc.as_detail()}, status=422)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(request, {"detail": django_validation_detail(exc)}, status=422)


@api.exception_handler(IntegrityError)
def on_integrity_error(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    # Services validate uniqueness first; what reaches here lost a race with a concurrent write.
    detail = [{"loc": ["body"], "msg": "This conflicts with data saved at the same moment; "
               "reload and try again.", "type": "Conflict"}]
    return api.create_response(request, {"detail": detail}, status=409)


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def on_out_of_range(request: HttpRequest, exc: Exception) -> HttpResponse:
    # An id or number beyond what the database column holds (SQLite raises OverflowError).
    detail = [{"loc": ["body"], "msg": "A number is out of range.", "type": "out_of_range"}]
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(ObjectDoesNotExist)
@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(request, {"detail": "Not found."}, status=404)


def _mount_routers() -> None:
    from servicebay.customer360.api import router as customer360_router
    from servicebay.loyalty.api import router as loyalty_router
    from servicebay.messaging.api import router as messaging_router
    from servicebay.segments.api import router as segments_router
    from servicebay.shop.api import router as shop_router
    from servicebay.visits.api import router as visits_router
    from servicebay.warehouse.api import router as warehouse_router

    api.add_router("/", shop_router)
    api.add_router("/", visits_router)
    api.add_router("/", loyalty_router)
    api.add_router("/", messaging_router)
    api.add_router("/", customer360_router)
    api.add_router("/", segments_router)
    api.add_router("/", warehouse_router)


_mount_routers()
