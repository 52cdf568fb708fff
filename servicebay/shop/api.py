"""Shop-core endpoints. Thin: check the permission, parse, call a service or selector."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status

from servicebay.core.api_auth import actor_of, require
from servicebay.core.errors import DomainError
from servicebay.core.pagination import keyset_page
from servicebay.core.schemas import ERRORS

from . import selectors, services
from .models import (
    Appointment,
    Customer,
    JobCard,
    JobLine,
    Location,
    Note,
    Part,
    ServiceTemplate,
    Vehicle,
)
from .schemas import (
    AppointmentIn,
    AppointmentOut,
    AppointmentPage,
    AppointmentStatusIn,
    CustomerDetailOut,
    CustomerIn,
    CustomerPage,
    CustomerPatch,
    JobCardDetailOut,
    JobCardIn,
    JobCardPage,
    JobCardStatusIn,
    JobLineIn,
    JobLineOut,
    JobLinePatch,
    LocationIn,
    LocationOut,
    LocationPage,
    LocationPatch,
    NoteIn,
    NoteOut,
    NotePage,
    PartIn,
    PartOut,
    PartPage,
    ServiceTemplateIn,
    ServiceTemplateOut,
    ServiceTemplatePage,
    VehicleIn,
    VehicleOut,
    VehiclePage,
    VehiclePatch,
)

router = Router()

Limit = Query(50, ge=1, le=200, description="Page size.")


def _page(qs, *, order, cursor, limit, scope) -> dict:
    page = keyset_page(qs, order=order, cursor=cursor, limit=limit, scope=scope)
    return {"items": page.items, "next_cursor": page.next_cursor}


def _get(model, pk: int, field: str):
    """Resolve a referenced id from a request body; unknown ids are a 422 on that field."""
    try:
        return model.objects.get(pk=pk)
    except model.DoesNotExist:
        raise DomainError(f"No {model._meta.verbose_name} with id {pk}.", field=field) from None


# --- locations -------------------------------------------------------------------------------


@router.get("/locations", response={200: LocationPage, **ERRORS}, tags=["locations"])
def location_list(request: HttpRequest, cursor: str | None = None, limit: int = Limit):
    require(request, "shop.view")
    return _page(Location.objects.all(), order=("id",), cursor=cursor, limit=limit, scope="locations")


@router.post("/locations", response={201: LocationOut, **ERRORS}, tags=["locations"])
def location_create(request: HttpRequest, payload: LocationIn):
    require(request, "locations.write")
    return Status(201, services.location_create(**payload.dict()))


@router.get("/locations/{location_id}", response={200: LocationOut, **ERRORS}, tags=["locations"])
def location_get(request: HttpRequest, location_id: int):
    require(request, "shop.view")
    return get_object_or_404(Location, pk=location_id)


@router.patch("/locations/{location_id}", response={200: LocationOut, **ERRORS}, tags=["locations"])
def location_update(request: HttpRequest, location_id: int, payload: LocationPatch):
    require(request, "locations.write")
    location = get_object_or_404(Location, pk=location_id)
    return services.location_update(location=location,
                                    **payload.dict(exclude_unset=True, exclude_none=True))


# --- customers -------------------------------------------------------------------------------


@router.get("/customers", response={200: CustomerPage, **ERRORS}, tags=["customers"])
def customer_list(
    request: HttpRequest,
    q: str = Query("", max_length=100, description="Name, phone, email, plate or VIN."),
    cursor: str | None = None,
    limit: int = Limit,
):
    require(request, "shop.view")
    qs = selectors.customer_search(query=q)
    return _page(qs, order=("last_name", "first_name", "id"), cursor=cursor, limit=limit,
                 scope="customers")


@router.post("/customers", response={201: CustomerDetailOut, **ERRORS}, tags=["customers"])
def customer_create(request: HttpRequest, payload: CustomerIn):
    require(request, "customers.write")
    data = payload.dict()
    location_id = data.pop("home_location_id")
    if location_id is not None:
        data["home_location"] = _get(Location, location_id, "home_location_id")
    customer = services.customer_create(actor=actor_of(request), **data)
    return Status(201, selectors.customer_get(customer_id=customer.pk))


@router.get("/customers/{customer_id}", response={200: CustomerDetailOut, **ERRORS}, tags=["customers"])
def customer_get(request: HttpRequest, customer_id: int):
    require(request, "shop.view")
    return selectors.customer_get(customer_id=customer_id)


@router.patch("/customers/{customer_id}", response={200: CustomerDetailOut, **ERRORS}, tags=["customers"])
def customer_update(request: HttpRequest, customer_id: int, payload: CustomerPatch):
    require(request, "customers.write")
    customer = get_object_or_404(Customer, pk=customer_id)
    data = payload.dict(exclude_unset=True)
    if "home_location_id" in data:
        location_id = data.pop("home_location_id")
        data["home_location"] = (
            _get(Location, location_id, "home_location_id") if location_id is not None else None
        )
    services.customer_update(customer=customer, actor=actor_of(request), **data)
    return selectors.customer_get(customer_id=customer_id)


@router.get("/customers/{customer_id}/vehicles", response={200: VehiclePage, **ERRORS}, tags=["vehicles"])
def customer_vehicles(request: HttpRequest, customer_id: int, cursor: str | None = None, limit: int = Limit):
    require(request, "shop.view")
    get_object_or_404(Customer, pk=customer_id)
    return _page(selectors.vehicle_list(customer_id=customer_id), order=("id",), cursor=cursor,
                 limit=limit, scope=f"vehicles:{customer_id}")


@router.post("/customers/{customer_id}/vehicles", response={201: VehicleOut, **ERRORS}, tags=["vehicles"])
def vehicle_create(request: HttpRequest, customer_id: int, payload: VehicleIn):
    require(request, "vehicles.write")
    customer = get_object_or_404(Customer, pk=customer_id)
    return Status(201, services.vehicle_create(customer=customer, actor=actor_of(request), **payload.dict()))


@router.get("/customers/{customer_id}/notes", response={200: NotePage, **ERRORS}, tags=["notes"])
def note_list(request: HttpRequest, customer_id: int, cursor: str | None = None, limit: int = Limit):
    require(request, "shop.view")
    get_object_or_404(Customer, pk=customer_id)
    return _page(selectors.note_list(customer_id=customer_id), order=("-created_at", "-id"),
                 cursor=cursor, limit=limit, scope=f"notes:{customer_id}")


@router.post("/customers/{customer_id}/notes", response={201: NoteOut, **ERRORS}, tags=["notes"])
def note_add(request: HttpRequest, customer_id: int, payload: NoteIn):
    require(request, "notes.write")
    customer = get_object_or_404(Customer, pk=customer_id)
    return Status(201, services.note_add(customer=customer, actor=actor_of(request), **payload.dict()))


class NotePinIn(Schema):
    pinned: bool


@router.patch("/notes/{note_id}", response={200: NoteOut, **ERRORS}, tags=["notes"])
def note_pin(request: HttpRequest, note_id: int, payload: NotePinIn):
    require(request, "notes.write")
    note = get_object_or_404(Note, pk=note_id)
    return services.note_set_pinned(note=note, pinned=payload.pinned, actor=actor_of(request))


# --- vehicles --------------------------------------------------------------------------------


@router.get("/vehicles", response={200: VehiclePage, **ERRORS}, tags=["vehicles"])
def vehicle_list(
    request: HttpRequest,
    q: str = Query("", max_length=32, description="Plate prefix or exact VIN."),
    cursor: str | None = None,
    limit: int = Limit,
):
    require(request, "shop.view")
    return _page(selectors.vehicle_list(query=q), order=("id",), cursor=cursor, limit=limit,
                 scope="vehicles")


@router.get("/vehicles/{vehicle_id}", response={200: VehicleOut, **ERRORS}, tags=["vehicles"])
def vehicle_get(request: HttpRequest, vehicle_id: int):
    require(request, "shop.view")
    return get_object_or_404(Vehicle, pk=vehicle_id)


@router.patch("/vehicles/{vehicle_id}", response={200: VehicleOut, **ERRORS}, tags=["vehicles"])
def vehicle_update(request: HttpRequest, vehicle_id: int, payload: VehiclePatch):
    require(request, "vehicles.write")
    vehicle = get_object_or_404(Vehicle, pk=vehicle_id)
    return services.vehicle_update(vehicle=vehicle, actor=actor_of(request),
                                   **payload.dict(exclude_unset=True, exclude_none=True))


# --- catalog ---------------------------------------------------------------------------------


@router.get("/service-templates", response={200: ServiceTemplatePage, **ERRORS}, tags=["catalog"])
def service_template_list(request: HttpRequest, cursor: str | None = None, limit: int = Limit):
    require(request, "shop.view")
    return _page(ServiceTemplate.objects.all(), order=("code",), cursor=cursor, limit=limit,
                 scope="service-templates")


@router.post("/service-templates", response={201: ServiceTemplateOut, **ERRORS}, tags=["catalog"])
def service_template_create(request: HttpRequest, payload: ServiceTemplateIn):
    require(request, "catalog.write")
    if ServiceTemplate.objects.filter(code=payload.code).exists():
        raise DomainError("A service with this code exists.", field="code")
    return Status(201, services.service_template_create(**payload.dict()))


@router.put("/service-templates/{template_id}", response={200: ServiceTemplateOut, **ERRORS}, tags=["catalog"])
def service_template_update(request: HttpRequest, template_id: int, payload: ServiceTemplateIn):
    require(request, "catalog.write")
    template = get_object_or_404(ServiceTemplate, pk=template_id)
    if ServiceTemplate.objects.filter(code=payload.code).exclude(pk=template_id).exists():
        raise DomainError("A service with this code exists.", field="code")
    return services.service_template_update(template=template, **payload.dict())


@router.get("/parts", response={200: PartPage, **ERRORS}, tags=["catalog"])
def part_list(request: HttpRequest, cursor: str | None = None, limit: int = Limit):
    require(request, "shop.view")
    return _page(Part.objects.all(), order=("sku",), cursor=cursor, limit=limit, scope="parts")


@router.post("/parts", response={201: PartOut, **ERRORS}, tags=["catalog"])
def part_create(request: HttpRequest, payload: PartIn):
    require(request, "catalog.write")
    if Part.objects.filter(sku=payload.sku).exists():
        raise DomainError("A part with this SKU exists.", field="sku")
    return Status(201, services.part_create(**payload.dict()))


@router.put("/parts/{part_id}", response={200: PartOut, **ERRORS}, tags=["catalog"])
def part_update(request: HttpRequest, part_id: int, payload: PartIn):
    require(request, "catalog.write")
    part = get_object_or_404(Part, pk=part_id)
    if Part.objects.filter(sku=payload.sku).exclude(pk=part_id).exists():
        raise DomainError("A part with this SKU exists.", field="sku")
    return services.part_update(part=part, **payload.dict())


# --- appointments ----------------------------------------------------------------------------


@router.get("/appointments", response={200: AppointmentPage, **ERRORS}, tags=["appointments"])
def appointment_list(
    request: HttpRequest,
    location_id: int | None = None,
    customer_id: int | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = Limit,
):
    require(request, "shop.view")
    qs = selectors.appointment_list(location_id=location_id, customer_id=customer_id,
                                    start_from=start_from, start_to=start_to)
    return _page(qs, order=("-start_at", "-id"), cursor=cursor, limit=limit, scope="appointments")


@router.post("/appointments", response={201: AppointmentOut, **ERRORS}, tags=["appointments"])
def appointment_book(request: HttpRequest, payload: AppointmentIn):
    require(request, "appointments.write")
    templates = list(ServiceTemplate.objects.filter(pk__in=payload.service_template_ids))
    if len(templates) != len(set(payload.service_template_ids)):
        raise DomainError("Unknown service template id.", field="service_template_ids")
    appointment = services.appointment_book(
        actor=actor_of(request),
        customer=_get(Customer, payload.customer_id, "customer_id"),
        vehicle=_get(Vehicle, payload.vehicle_id, "vehicle_id"),
        location=_get(Location, payload.location_id, "location_id"),
        start_at=payload.start_at,
        duration_minutes=payload.duration_minutes,
        services=templates,
        notes=payload.notes,
    )
    return Status(201, appointment)


@router.get("/appointments/{appointment_id}", response={200: AppointmentOut, **ERRORS}, tags=["appointments"])
def appointment_get(request: HttpRequest, appointment_id: int):
    require(request, "shop.view")
    return get_object_or_404(selectors.appointment_list(), pk=appointment_id)


@router.post("/appointments/{appointment_id}/status", response={200: AppointmentOut, **ERRORS}, tags=["appointments"])
def appointment_set_status(request: HttpRequest, appointment_id: int, payload: AppointmentStatusIn):
    require(request, "appointments.write")
    appointment = get_object_or_404(Appointment, pk=appointment_id)
    services.appointment_set_status(appointment=appointment, status=payload.status, actor=actor_of(request))
    return get_object_or_404(selectors.appointment_list(), pk=appointment_id)


# --- job cards -------------------------------------------------------------------------------


@router.get("/job-cards", response={200: JobCardPage, **ERRORS}, tags=["job cards"])
def job_card_list(
    request: HttpRequest,
    customer_id: int | None = None,
    location_id: int | None = None,
    status: str | None = Query(None, max_length=20),
    cursor: str | None = None,
    limit: int = Limit,
):
    require(request, "shop.view")
    qs = selectors.job_card_list(customer_id=customer_id, location_id=location_id, status=status)
    return _page(qs, order=("-opened_at", "-id"), cursor=cursor, limit=limit, scope="job-cards")


@router.post("/job-cards", response={201: JobCardDetailOut, **ERRORS}, tags=["job cards"])
def job_card_open(request: HttpRequest, payload: JobCardIn):
    require(request, "jobcards.write")
    card = services.job_card_open(
        actor=actor_of(request),
        location=_get(Location, payload.location_id, "location_id"),
        customer=_get(Customer, payload.customer_id, "customer_id"),
        vehicle=_get(Vehicle, payload.vehicle_id, "vehicle_id"),
        appointment=(
            _get(Appointment, payload.appointment_id, "appointment_id")
            if payload.appointment_id is not None else None
        ),
        odometer_in=payload.odometer_in,
    )
    return Status(201, selectors.job_card_get(job_card_id=card.pk))


@router.get("/job-cards/{job_card_id}", response={200: JobCardDetailOut, **ERRORS}, tags=["job cards"])
def job_card_get(request: HttpRequest, job_card_id: int):
    require(request, "shop.view")
    return selectors.job_card_get(job_card_id=job_card_id)


@router.post("/job-cards/{job_card_id}/lines", response={201: JobLineOut, **ERRORS}, tags=["job cards"])
def job_line_add(request: HttpRequest, job_card_id: int, payload: JobLineIn):
    require(request, "jobcards.write")
    card = get_object_or_404(JobCard, pk=job_card_id)
    data = payload.dict()
    part_id, template_id = data.pop("part_id"), data.pop("service_template_id")
    line = services.job_line_add(
        job_card=card, actor=actor_of(request),
        part=_get(Part, part_id, "part_id") if part_id is not None else None,
        service_template=(
            _get(ServiceTemplate, template_id, "service_template_id") if template_id is not None else None
        ),
        **data,
    )
    return Status(201, _line(job_card_id, line.pk))


def _line(job_card_id: int, line_id: int) -> JobLine:
    return get_object_or_404(JobLine.objects.select_related("job_card", "part"), pk=line_id,
                             job_card_id=job_card_id)


@router.patch("/job-cards/{job_card_id}/lines/{line_id}", response={200: JobLineOut, **ERRORS}, tags=["job cards"])
def job_line_update(request: HttpRequest, job_card_id: int, line_id: int, payload: JobLinePatch):
    require(request, "jobcards.write")
    services.job_line_update(line=_line(job_card_id, line_id), actor=actor_of(request),
                             **payload.dict(exclude_unset=True, exclude_none=True))
    return _line(job_card_id, line_id)  # as stored: quantities and prices at their scale


@router.delete("/job-cards/{job_card_id}/lines/{line_id}", response={204: None, **ERRORS}, tags=["job cards"])
def job_line_remove(request: HttpRequest, job_card_id: int, line_id: int):
    require(request, "jobcards.write")
    services.job_line_remove(line=_line(job_card_id, line_id), actor=actor_of(request))
    return Status(204, None)


# Who may make which move: technicians start work; completing, closing, cancelling and
# reopening are the advisor's (or manager's) call.
_STATUS_PERMISSION = {"in_progress": "jobcards.write"}


@router.post("/job-cards/{job_card_id}/status", response={200: JobCardDetailOut, **ERRORS}, tags=["job cards"])
def job_card_transition(request: HttpRequest, job_card_id: int, payload: JobCardStatusIn):
    card = get_object_or_404(JobCard, pk=job_card_id)
    needed = (
        "jobcards.manage" if card.status == "completed" else
        _STATUS_PERMISSION.get(payload.status, "jobcards.manage")
    )
    require(request, needed)
    services.job_card_transition(job_card=card, to_status=payload.status, actor=actor_of(request))
    return selectors.job_card_get(job_card_id=job_card_id)
