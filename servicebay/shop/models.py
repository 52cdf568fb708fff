from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length, Lower, Upper
from django.utils import timezone

from servicebay.core.timezones import validate_time_zone

from .choices import (
    AppointmentStatus,
    Channel,
    DistanceUnit,
    JobCardStatus,
    JobLineKind,
    Payer,
)
from .validators import validate_e164, validate_vin

MONEY = {"max_digits": 12, "decimal_places": 2}
models.CharField.register_lookup(Length)


class Location(models.Model):
    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    currency = models.CharField(
        max_length=3, default="USD",
        validators=[RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. USD.")],
    )
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=20, blank=True, validators=[validate_e164])
    distance_unit = models.CharField(
        max_length=2, choices=DistanceUnit.choices, default=DistanceUnit.MILES
    )
    quiet_hours_start = models.TimeField(default=time(21, 0))
    quiet_hours_end = models.TimeField(default=time(8, 0))
    next_job_card_number = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            # No REGEXP here: SQLite only has it on Django's own connections, and backups and
            # other tools open the file without it.
            models.CheckConstraint(
                condition=Q(currency__length=3) & Q(currency=Upper("currency")),
                name="location_currency_iso",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    phone = models.CharField(max_length=20, blank=True, validators=[validate_e164])
    email = models.EmailField(blank=True)
    birthday = models.DateField(null=True, blank=True)
    preferred_channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    language = models.CharField(max_length=10, default="en")
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    home_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(Lower("last_name"), Lower("first_name"), name="customer_name_ci"),
            models.Index(Lower("first_name"), name="customer_first_name_ci"),
            models.Index(fields=["phone"], name="customer_phone"),
            models.Index(Lower("email"), name="customer_email_ci"),
            models.Index(fields=["-created_at", "-id"], name="customer_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(first_name="") & ~Q(last_name=""), name="customer_has_name"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def effective_time_zone(self) -> str:
        if self.time_zone:
            return self.time_zone
        if self.home_location_id:
            return self.home_location.time_zone
        return settings.TIME_ZONE


class Vehicle(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="vehicles")
    vin = models.CharField(max_length=17, blank=True, validators=[validate_vin])
    make = models.CharField(max_length=60)
    model = models.CharField(max_length=60)
    year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1900), MaxValueValidator(2100)]
    )
    plate = models.CharField(max_length=16, blank=True)
    odometer = models.PositiveIntegerField(default=0)
    odometer_unit = models.CharField(
        max_length=2, choices=DistanceUnit.choices, default=DistanceUnit.MILES
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-year", "make", "model", "id"]
        indexes = [models.Index(fields=["plate"], name="vehicle_plate")]
        constraints = [
            # code "unique" files the violation under the ``vin`` field (form and API error path).
            models.UniqueConstraint(
                fields=["vin"], condition=~Q(vin=""), name="vehicle_vin_unique",
                violation_error_code="unique",
                violation_error_message="Another vehicle already has this VIN.",
            ),
            models.CheckConstraint(condition=Q(year__gte=1900, year__lte=2100), name="vehicle_year_range"),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.make} {self.model}" + (f" ({self.plate})" if self.plate else "")


class ServiceTemplate(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=60)
    labor_hours = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("0"))
    price = models.DecimalField(**MONEY)
    interval_months = models.PositiveSmallIntegerField(null=True, blank=True)
    interval_miles = models.PositiveIntegerField(null=True, blank=True)
    interval_km = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["category", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="service_template_price_nonneg"),
            models.CheckConstraint(condition=Q(labor_hours__gte=0), name="service_template_hours_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Part(models.Model):
    sku = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    price = models.DecimalField(**MONEY)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="part_price_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"


class Appointment(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="appointments")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="appointments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="appointments")
    start_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(default=60)
    services = models.ManyToManyField(ServiceTemplate, blank=True, related_name="appointments")
    status = models.CharField(
        max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-start_at", "-id"]
        indexes = [
            models.Index(fields=["location", "start_at"], name="appointment_location_start"),
            models.Index(fields=["customer", "-start_at"], name="appointment_customer_start"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gt=0, duration_minutes__lte=24 * 60),
                name="appointment_duration_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} @ {self.start_at:%Y-%m-%d %H:%M}"

    @property
    def end_at(self):
        return self.start_at + timedelta(minutes=self.duration_minutes)


class JobCard(models.Model):
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="job_cards")
    number = models.PositiveIntegerField()
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="job_cards")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="job_cards")
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="job_card"
    )
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    odometer_in = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=JobCardStatus.choices, default=JobCardStatus.OPEN
    )
    technician_notes = models.TextField(blank=True)
    # Totals are derived from the lines and stored, so lists and reports never re-aggregate lines.
    subtotal = models.DecimalField(**MONEY, default=Decimal("0"))
    discount_total = models.DecimalField(**MONEY, default=Decimal("0"))
    tax_total = models.DecimalField(**MONEY, default=Decimal("0"))
    total = models.DecimalField(**MONEY, default=Decimal("0"))
    opened_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-opened_at"], name="jobcard_customer_opened"),
            models.Index(fields=["vehicle", "-opened_at"], name="jobcard_vehicle_opened"),
            models.Index(fields=["status", "-opened_at"], name="jobcard_status_opened"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["location", "number"], name="jobcard_number_per_location"),
            models.CheckConstraint(condition=Q(total__gte=0), name="jobcard_total_nonneg"),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(completed_at__gte=F("opened_at")),
                name="jobcard_completed_after_opened",
            ),
        ]

    def __str__(self) -> str:
        return f"JC-{self.number}"

    @property
    def display_number(self) -> str:
        return f"JC-{self.location_id}-{self.number:05d}"

    @property
    def is_editable(self) -> bool:
        return self.status in (JobCardStatus.OPEN, JobCardStatus.IN_PROGRESS)


class JobLine(models.Model):
    job_card = models.ForeignKey(JobCard, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=JobLineKind.choices)
    description = models.CharField(max_length=200)
    service_template = models.ForeignKey(
        ServiceTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    part = models.ForeignKey(Part, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal("1"))
    unit_price = models.DecimalField(**MONEY)
    tax_rate = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0"),
        help_text="A fraction: 0.0825 is 8.25 %.",
    )
    payer = models.CharField(max_length=10, choices=Payer.choices, default=Payer.CUSTOMER)
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="jobline_quantity_pos"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="jobline_price_nonneg"),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0, tax_rate__lt=1), name="jobline_tax_rate_range"
            ),
            models.CheckConstraint(
                condition=~Q(kind=JobLineKind.PART) | Q(part__isnull=False),
                name="jobline_part_has_part",
            ),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def sign(self) -> int:
        return -1 if self.kind == JobLineKind.DISCOUNT else 1


class Note(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-pinned", "-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="note_customer_created")]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="note_body_not_empty"),
        ]

    def __str__(self) -> str:
        return self.body[:60]
