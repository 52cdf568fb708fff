"""Deterministic generation of a shop chain's history as plain rows.

One ``random.Random(seed)`` drives everything in a fixed order, so the same seed, customer count,
``as_of`` instant and starting database give the same rows. Each customer's vehicles are simulated
visit by visit: the odometer climbs at the vehicle's own daily rate, services come due by months or
miles, and each visit becomes an appointment (unless a walk-in), a job card with labor, part, fee
and discount lines whose totals follow ``shop.services.line_amounts``, and the activity events the
services would have recorded. Every job card also gets its ``CustomerVisit`` (scheduled iff it
came from an appointment), with the recommendations made during it and the satisfaction score
given after it. Those draw on a second random stream, so the shop rows stayed as they were, bar the
rare extra booking that would have overlapped a stay still in progress (now skipped). Each
customer's loyalty points history is replayed from their completed cards on a third stream
(``loyalty.LedgerPlayer``); a redemption adds its discount line to the card it paid.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from zoneinfo import ZoneInfo

from servicebay.shop.choices import AppointmentStatus, JobCardStatus, JobLineKind, Payer
from servicebay.shop.services import line_amounts
from servicebay.shop.validators import vin_check_digit
from servicebay.visits.choices import RecommendationStatus, SatisfactionSource, VisitType

from . import catalog
from .loyalty import CardSeen, LedgerPlayer, Programme

HISTORY_DAYS = 5 * 365
UPCOMING_DAYS = 14
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 1980-2009, then the cycle repeats from 2010
PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"

CUSTOMER_FIELDS = (
    "id", "first_name", "last_name", "phone", "email", "birthday", "preferred_channel", "language",
    "time_zone", "home_location_id", "created_at", "updated_at",
)
VEHICLE_FIELDS = (
    "id", "customer_id", "vin", "make", "model", "year", "plate", "odometer", "odometer_unit",
    "created_at",
)
APPOINTMENT_FIELDS = (
    "id", "customer_id", "vehicle_id", "location_id", "start_at", "duration_minutes", "status",
    "notes", "created_by_id", "created_at",
)
APPOINTMENT_SERVICE_FIELDS = ("id", "appointment_id", "servicetemplate_id")
JOB_CARD_FIELDS = (
    "id", "location_id", "number", "customer_id", "vehicle_id", "appointment_id", "advisor_id",
    "odometer_in", "status", "technician_notes", "subtotal", "discount_total", "tax_total", "total",
    "opened_at", "started_at", "completed_at", "closed_at", "cancelled_at", "updated_at",
)
JOB_LINE_FIELDS = (
    "id", "job_card_id", "position", "kind", "description", "service_template_id", "part_id",
    "quantity", "unit_price", "tax_rate", "payer", "technician_id", "created_at",
)
VISIT_FIELDS = (
    "id", "customer_id", "vehicle_id", "job_card_id", "appointment_id", "visit_type", "location_id",
    "advisor_id", "odometer_in", "check_in_at", "check_out_at", "total_spend", "satisfaction_score",
    "satisfaction_comment", "satisfaction_source", "satisfaction_recorded_at",
    "satisfaction_recorded_by_id", "updated_at",
)
RECOMMENDATION_FIELDS = (
    "id", "visit_id", "service_template_id", "status", "notes", "measured_value", "estimated_price",
    "created_by_id", "created_at", "decided_by_id", "decided_by_label", "decided_at", "declined_at",
    "decline_reason", "recovered_from_id", "job_line_id", "appointment_id",
)
NOTE_FIELDS = ("id", "customer_id", "author_id", "body", "pinned", "created_at")
EVENT_FIELDS = (
    "id", "kind", "customer_id", "subject_type", "subject_id", "actor", "actor_user_id",
    "occurred_at", "payload",
)
TABLES = (
    "customer", "vehicle", "appointment", "appointment_service", "job_card", "job_line", "visit",
    "visit_recommendation", "note", "loyalty_balance", "loyalty_transaction", "event",
)

APPOINTMENT_NOTES = (
    "Customer will wait.", "Drop-off before 8; needs a ride to work.", "Loaner requested.",
    "Call when ready.", "Second opinion on a quote from another shop.",
)
TECH_NOTES = {
    "TIRE-ROT": "Rotated tires, torqued lug nuts to spec.",
    "BRAKE-F": "Front pads at 2 mm; replaced pads and rotors, test-driven.",
    "BATT": "Battery failed load test; replaced and cleaned terminals.",
    "DIAG": "Scanned codes; loose gas cap, cleared and retested.",
    "AC": "Evacuated and recharged A/C; vent temperature 41 °F.",
    "ALIGN": "Alignment was out on the front toe; adjusted to spec.",
}


# What a technician writes down when recommending a service; ``imperial`` is the US style.
MEASUREMENTS: dict[str, Callable[[random.Random, bool], str]] = {
    "BRAKE-F": lambda r, imp: f"front pads {r.choice((2, 3, 3, 4))} mm",
    "BRAKE-R": lambda r, imp: f"rear pads {r.choice((2, 3, 3, 4))} mm",
    "BRAKE-FL": lambda r, imp: f"fluid {r.choice(('2.5', '3', '3.5', '4'))}% moisture",
    "TIRE-SET": lambda r, imp: (f"tread {r.choice((2, 3, 3, 4))}/32 in" if imp
                                else f"tread {r.choice(('1.8', '2', '2.5', '3'))} mm"),
    "TIRE-ROT": lambda r, imp: "uneven wear front to rear",
    "ALIGN": lambda r, imp: f"front toe out {r.choice(('0.2', '0.3', '0.4'))}°",
    "BATT": lambda r, imp: f"{r.randrange(280, 420, 10)} CCA of 600 rated",
    "COOL": lambda r, imp: (f"protects to {r.choice((-5, 0, 5, 10))} °F" if imp
                            else f"protects to {r.choice((-20, -15, -12, -10))} °C"),
    "TRANS": lambda r, imp: "fluid dark, smells burnt",
    "DIFF": lambda r, imp: "fluid dark",
    "CABIN": lambda r, imp: "filter clogged with leaves",
    "ENG-AIR": lambda r, imp: "filter dirty",
    "WIPER": lambda r, imp: "blades streaking",
    "SPARK": lambda r, imp: "misfire on cylinder " + str(r.randint(1, 4)),
    "BELT": lambda r, imp: f"{r.randint(3, 8)} cracks per inch" if imp else f"{r.randint(2, 5)} cracks per cm",
    "AC": lambda r, imp: (f"vent temperature {r.randint(52, 64)} °F" if imp
                          else f"vent temperature {r.randint(11, 18)} °C"),
}
DECLINE_REASONS = (
    "", "", "Next visit.", "Over budget this month.", "Getting a second quote.", "Will do it myself.",
    "Selling the car soon.",
)
SATISFACTION_WEIGHTS = (3, 5, 12, 30, 50)  # scores 1..5
SATISFACTION_COMMENTS = {
    1: ("Car was not ready when promised.", "Nobody called me back."),
    2: ("Took much longer than quoted.",),
    3: ("Fine, but the waiting room was packed.",),
    4: ("Good work, fair price.", "Quick and friendly."),
    5: ("Excellent service as always!", "Sam explained everything, thank you.", "Fast and honest."),
}
OPEN = datetime.max  # a vehicle's last visit is still open


@dataclass
class ShopLocation:
    id: int
    name: str
    city: catalog.City
    zone: ZoneInfo
    next_number: int


@dataclass(frozen=True)
class Template:
    id: int
    spec: catalog.ServiceSpec


@dataclass
class World:
    """What the generator needs from the database: catalog ids, staff, id counters, the clock."""

    locations: list[ShopLocation]
    templates: dict[str, Template]
    part_ids: dict[str, int]
    part_prices: dict[str, Decimal]
    advisor_ids: list[int]
    technician_ids: list[int]
    next_ids: dict[str, int]
    as_of: datetime  # aware, UTC
    customers: int
    loyalty: dict[str, Programme] = field(default_factory=dict)  # the active programme by currency

    def take_id(self, table: str) -> int:
        value = self.next_ids[table]
        self.next_ids[table] = value + 1
        return value


@dataclass
class Chunk:
    rows: dict[str, list[tuple]] = field(default_factory=lambda: {t: [] for t in TABLES})

    def count(self) -> int:
        return sum(len(r) for r in self.rows.values())


class _Line:
    """Duck-typed stand-in for ``JobLine`` so ``line_amounts`` prices a line without the ORM."""

    __slots__ = ("kind", "quantity", "tax_rate", "unit_price")

    def __init__(self, kind: str, quantity: Decimal, unit_price: Decimal, tax_rate: Decimal) -> None:
        self.kind, self.quantity, self.unit_price, self.tax_rate = kind, quantity, unit_price, tax_rate

    @property
    def sign(self) -> int:
        return -1 if self.kind == JobLineKind.DISCOUNT else 1


@cache
def _amounts(kind: str, quantity: Decimal, unit_price: Decimal, tax_rate: Decimal) -> tuple[Decimal, Decimal]:
    return line_amounts(_Line(kind, quantity, unit_price, tax_rate))


@cache
def local_price(price: Decimal, currency: str) -> Decimal:
    """A catalog price in a shop's currency, rounded the way shops price (19.95, 149.95)."""
    if currency == "USD" or price == 0:
        return price
    scaled = (price * catalog.PRICE_LEVEL[currency]).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return max(scaled - Decimal("0.05"), Decimal("0.95"))


def location_count(customers: int) -> int:
    """A shop per ~2,000 customers: three for a demo, up to a national chain of 300."""
    return max(3, min(catalog.MAX_LOCATIONS, customers // 2000))


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def _iso(dt: datetime) -> str:
    """An aware ISO string from a naive-UTC datetime, as services put it in event payloads."""
    return dt.replace(tzinfo=UTC).isoformat()


def make_vin(rng: random.Random, wmi: str, year: int, vehicle_id: int) -> str:
    """A VIN that passes ``validate_vin``; the serial encodes the id, so VINs never collide."""
    vds = "".join(rng.choice(VIN_CHARS) for _ in range(5))
    year_code = YEAR_CODES[(year - 1980) % 30]
    plant = VIN_CHARS[(vehicle_id // 1_000_000) % len(VIN_CHARS)]
    serial = f"{(vehicle_id * 7919 + 104_729) % 1_000_000:06d}"
    draft = f"{wmi}{vds}0{year_code}{plant}{serial}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


def make_plate(rng: random.Random, market: str) -> str:
    """A plate in the local style, without spaces (search compacts queries the same way)."""
    letters = lambda n: "".join(rng.choice(PLATE_LETTERS) for _ in range(n))  # noqa: E731
    digits = lambda n: "".join(str(rng.randrange(10)) for _ in range(n))  # noqa: E731
    if market == "uk":
        return f"{letters(2)}{rng.choice(('15', '16', '65', '66', '19', '69', '21', '71', '23', '73'))}{letters(3)}"
    if market == "au":
        return f"{letters(3)}{digits(2)}{letters(1)}"
    return f"{digits(1)}{letters(3)}{digits(3)}" if rng.random() < 0.5 else f"{letters(3)}{digits(4)}"


def make_phone(rng: random.Random, city: catalog.City) -> str:
    """A valid E.164 number from a range reserved for fiction."""
    prefix = rng.choice(city.phone_prefixes)
    if city.phone_style == "nanp":
        return f"{prefix}55501{rng.randrange(100):02d}"
    if city.phone_style == "uk":
        local = {"+4420": "79460", "+44161": "4960", "+44113": "4960"}[prefix]
        return f"{prefix}{local}{rng.randrange(1000):03d}"
    if rng.random() < 0.5:
        return f"+6149157{rng.randrange(10000):04d}"
    local = {"+612": "5550", "+613": "7010", "+617": "5550", "+618": "7010"}[prefix]
    return f"{prefix}{local}{rng.randrange(10000):04d}"


class HistoryGenerator:
    """Produces the rows of ``world.customers`` customers in chunks, in one deterministic order."""

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.rng = random.Random(seed)
        self.vrng = random.Random(f"visits:{seed}")  # visits and recommendations
        self._declined: list[Template] = []  # due services the last _due_services call left undone
        self._standing: dict[int, int] = {}  # this vehicle's standing declines: template id → rec id
        self._last_out = datetime.min  # this vehicle's last check-out (OPEN while checked in)
        self.as_of = _naive(world.as_of)
        self.start = self.as_of - timedelta(days=HISTORY_DAYS)
        self.horizon = self.as_of + timedelta(days=UPCOMING_DAYS)
        n_locations = len(world.locations)
        expected_vehicles = 1.3 * world.customers
        # Small demos still need something on today's board: a few extra bookings per shop.
        self.p_today = min(0.5, 5 * n_locations / expected_vehicles)
        self.p_upcoming = min(0.4, 20 * n_locations / expected_vehicles)
        self.vehicle_pool = {
            market: (specs, [s.weight for s in specs]) for market, specs in catalog.VEHICLES.items()
        }
        self.template_list = list(world.templates.values())
        self._groups: dict[tuple, tuple] = {}
        self._labels: dict[int, str] = {}
        self._today_local = {loc.id: world.as_of.astimezone(loc.zone).date() for loc in world.locations}
        # Points history on a third random stream, replayed per customer once their cards exist.
        self._ledger = LedgerPlayer(self, seed) if world.loyalty else None
        self._cards: list[CardSeen] = []  # this customer's completed job cards

    # --- small helpers ----------------------------------------------------------------------

    def _staff(self, ids: list[int]) -> int | None:
        return self.rng.choice(ids) if ids else None

    def _event(self, chunk: Chunk, kind: str, customer_id: int | None, subject: str, subject_id: int,
               user_id: int | None, at: datetime, payload: dict | str, label: str | None = None) -> None:
        """One activity row; ``payload`` may be pre-rendered JSON text for the hot paths."""
        if label is None and user_id is None:
            label = "system:seed"
        elif label is None:
            label = self._labels.get(user_id) or self._labels.setdefault(user_id, f"user:{user_id}")
        world = self.world
        event_id = world.next_ids["event"]
        world.next_ids["event"] = event_id + 1
        chunk.rows["event"].append((
            event_id, kind, customer_id, subject, subject_id, label, user_id, at,
            payload if isinstance(payload, str) else json.dumps(payload),
        ))

    def _business_time(self, loc: ShopLocation, day: date) -> datetime:
        """A naive-UTC instant during opening hours on ``day`` at the shop, never on a Sunday."""
        if day.weekday() == 6:
            day += timedelta(days=1)
        minutes = self.rng.randrange(catalog.OPEN_HOUR * 60, catalog.CLOSE_HOUR * 60 - 30, 15)
        local = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=loc.zone)
        return _naive(local)

    # --- the generator ----------------------------------------------------------------------

    def chunks(self, size: int, on_progress: Callable[[int], None] | None = None):
        """Yield ``Chunk``s of about ``size`` customers each, until all customers are made."""
        remaining = self.world.customers
        first = True
        while remaining > 0:
            chunk = Chunk()
            if first and self._ledger is not None:
                self._ledger.opening(chunk)
            first = False
            count = min(size, remaining)
            for _ in range(count):
                self._customer(chunk)
            remaining -= count
            yield chunk
            if on_progress is not None:
                on_progress(count)

    def _customer(self, chunk: Chunk) -> None:
        rng, world = self.rng, self.world
        cid = world.take_id("customer")
        self._cards = []
        loc = world.locations[min(int(rng.random() ** 1.3 * len(world.locations)), len(world.locations) - 1)]
        city = loc.city
        first = rng.choice(catalog.FIRST_NAMES)
        last = rng.choice(catalog.LAST_NAMES)
        if rng.random() < 0.35:
            created = self.start + timedelta(seconds=rng.randrange(30 * 86400))
            creator = None
        else:
            created = self.start + timedelta(seconds=rng.randrange(int((self.as_of - self.start).total_seconds())))
            creator = self._staff(world.advisor_ids)
        phone = make_phone(rng, city) if rng.random() < 0.95 else ""
        local_part = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
        email = f"{local_part}{cid}@{rng.choice(catalog.EMAIL_DOMAINS)}" if rng.random() < 0.9 else ""
        birthday = None
        if rng.random() < 0.85:
            birthday = date(self.as_of.year - rng.randint(18, 85), rng.randint(1, 12), rng.randint(1, 28))
        roll = rng.random()
        channel = "sms" if roll < 0.45 else ("email" if roll < 0.9 else "whatsapp")
        if not phone:
            channel = "email"
        if not email and channel == "email":
            channel = "sms" if phone else "email"
        language = "es" if city.market == "us" and rng.random() < 0.08 else "en"
        zone = ""
        if rng.random() < 0.03:
            zone = rng.choice(("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London"))
        fleet = rng.random() < 0.02
        loyalty = 0.45 + rng.random() * 0.5  # chance they come to us when a service is due
        state = {"updated": created, "churned": False}
        chunk.rows["customer"].append((
            cid, first, last, phone, email, birthday, channel, language, zone, loc.id, created, None,
        ))
        row_index = len(chunk.rows["customer"]) - 1
        self._event(chunk, "customer.created", cid, "shop.customer", cid, creator, created, {})
        n_vehicles = 1 if rng.random() < 0.7 else 2
        for index in range(n_vehicles):
            added = created if index == 0 else created + timedelta(days=rng.randrange(0, 900))
            if added >= self.as_of:
                break
            self._vehicle(chunk, cid, loc, added, creator, fleet, loyalty, state)
        for _ in range(self._note_count()):
            self._note(chunk, cid, created, city.currency)
        row = chunk.rows["customer"][row_index]
        chunk.rows["customer"][row_index] = (*row[:-1], state["updated"])
        if self._ledger is not None and self._cards:
            self._ledger.play(chunk, cid, self._cards)

    def _note_count(self) -> int:
        roll = self.rng.random()
        return 0 if roll < 0.75 else (1 if roll < 0.92 else (2 if roll < 0.98 else 3))

    def _note(self, chunk: Chunk, cid: int, created: datetime, currency: str) -> None:
        rng = self.rng
        span = max(60, int((self.as_of - created).total_seconds()))
        at = created + timedelta(seconds=rng.randrange(span))
        body = rng.choice(catalog.NOTE_TEXTS).format(
            amount=catalog.CALL_ABOVE[currency],
            tag=f"{rng.randrange(1, 200):03d}",
        )
        pinned = rng.random() < catalog.NOTE_PIN_CHANCE
        author = self._staff(self.world.advisor_ids)
        nid = self.world.take_id("note")
        chunk.rows["note"].append((nid, cid, author, body, pinned, at))
        self._event(chunk, "note.added", cid, "shop.note", nid, author, at,
                    {"excerpt": body[:140], "pinned": pinned})

    def _vehicle(self, chunk: Chunk, cid: int, loc: ShopLocation, added: datetime,
                 creator: int | None, fleet: bool, loyalty: float, state: dict) -> None:
        rng, world = self.rng, self.world
        city = loc.city
        specs, weights = self.vehicle_pool[city.market]
        spec = rng.choices(specs, weights)[0]
        newest = min(spec.last_year, added.year + 1)
        oldest = max(spec.first_year, added.year - 15)
        year = rng.randint(oldest, max(oldest, newest))
        vid = world.take_id("vehicle")
        vin = make_vin(rng, spec.wmi, year, vid) if rng.random() < 0.95 else ""
        plate = make_plate(rng, city.market)
        km = city.distance_unit == "km"
        per_day = min(90.0, max(8.0, rng.lognormvariate(math.log(33), 0.35)))
        if km:
            per_day *= 1.609
        age_days = max(0, (added.date() - date(year - 1, 10, 1)).days)
        odometer = int(age_days * per_day * rng.uniform(0.7, 1.2))
        label = f"{year} {spec.make} {spec.model} ({plate})"
        final_odometer = self._visits(chunk, cid, vid, loc, added, odometer, per_day, km, spec,
                                      label, fleet, loyalty, state)
        chunk.rows["vehicle"].append((
            vid, cid, vin, spec.make, spec.model, year, plate, final_odometer, city.distance_unit, added,
        ))
        self._event(chunk, "vehicle.added", cid, "shop.vehicle", vid, creator, added, {"label": label})

    # --- visits -------------------------------------------------------------------------------

    def _visits(self, chunk: Chunk, cid: int, vid: int, home: ShopLocation, added: datetime,
                odometer: int, per_day: float, km: bool, spec: catalog.VehicleSpec, label: str,
                fleet: bool, loyalty: float, state: dict) -> int:
        rng = self.rng
        oil = self.world.templates["OIL-SYN" if spec.synthetic else "OIL-CONV"]
        oil_spec = oil.spec
        oil_gap = min(oil_spec.interval_months * 30.4, oil_spec.interval_miles * (1.609 if km else 1) / per_day)
        due: dict[str, tuple[float, float]] = {}
        self._standing = {}
        self._last_out = datetime.min
        when = added + timedelta(days=rng.uniform(0, 45))
        last_when = added
        known = odometer  # the highest reading we have seen: at registration, then at our visits
        booked_future = False
        while not state["churned"]:
            if when > self.horizon:
                break
            loc = home if rng.random() < 0.92 else rng.choice(self.world.locations)
            start = self._business_time(loc, (when.replace(tzinfo=UTC).astimezone(loc.zone)).date())
            if start <= last_when:
                start = last_when + timedelta(hours=2)
            days = (start - last_when).total_seconds() / 86400
            odometer += int(days * per_day * rng.uniform(0.85, 1.15))
            last_when = start
            if rng.random() > loyalty:
                # Went elsewhere this time: the odometer moved on, the history stays ours.
                when = start + timedelta(days=oil_gap * rng.uniform(0.8, 1.3))
                continue
            templates = self._due_services(due, start, odometer, km, oil)
            if start > self.as_of:
                self._future_appointment(chunk, cid, vid, loc, start, templates, label)
                booked_future = True
                break
            self._visit(chunk, cid, vid, loc, start, odometer, templates, label, fleet, state)
            known = odometer
            if rng.random() < 0.05:
                state["churned"] = True
            when = start + timedelta(days=oil_gap * rng.uniform(0.85, 1.35) * (2 if rng.random() < 0.1 else 1))
        if not booked_future and not state["churned"]:
            roll = rng.random()
            if roll < self.p_today:
                known = self._extra_today(chunk, cid, vid, home, odometer, per_day, last_when,
                                          km, oil, due, label, fleet, state) or known
            elif roll < self.p_today + self.p_upcoming:
                start = self._business_time(home, self._today_local[home.id] + timedelta(days=rng.randint(1, UPCOMING_DAYS)))
                if start > self.as_of:
                    self._future_appointment(chunk, cid, vid, home, start,
                                             self._due_services(due, start, odometer, km, oil), label)
        return known

    def _extra_today(self, chunk, cid, vid, loc, odometer, per_day, last_when, km, oil, due,
                     label, fleet, state) -> int | None:
        """A booking for today, or a car already on the board (checked in within the last days).

        Returns the odometer reading taken at check-in, if the car is already here.
        """
        on_board = self.rng.random() < 0.4
        today = self._today_local[loc.id]
        start = self._business_time(loc, today)
        if on_board:
            back = 0
            while start > self.as_of - timedelta(minutes=30):
                back += 1
                start = self._business_time(loc, today - timedelta(days=back))
        if start <= last_when or start <= self._last_out:
            return None  # the car is still here, or was until after that time
        odometer += int((start - last_when).total_seconds() / 86400 * per_day)
        templates = self._due_services(due, start, odometer, km, oil)
        if start > self.as_of:
            self._future_appointment(chunk, cid, vid, loc, start, templates, label)
            return None
        self._visit(chunk, cid, vid, loc, start, odometer, templates, label, fleet, state,
                    on_board=on_board)
        return odometer

    def _due_services(self, due: dict, start: datetime, odometer: int, km: bool, oil: Template) -> list[Template]:
        """Services due by time or distance (a few declined), plus the odd unplanned repair."""
        rng = self.rng
        day = start.toordinal()
        scale = 1.609 if km else 1.0
        chosen = [oil]
        self._declined = declined = []
        due[oil.spec.code] = (day, odometer)
        for template in self.template_list:
            spec = template.spec
            if spec.code in catalog.OIL_CODES:
                continue
            months, miles = spec.interval_months, spec.interval_miles
            if months or miles:
                last = due.get(spec.code)
                if last is None:
                    # The car's history before it came to us: done at some unknown point before.
                    last = (
                        day - rng.random() * (months or 60) * 30.4,
                        odometer - rng.random() * (miles or 60000) * scale,
                    )
                    due[spec.code] = last
                is_due = (months and day - last[0] >= months * 30.4) or (
                    miles and odometer - last[1] >= miles * scale
                )
                if is_due:
                    if rng.random() < 0.35:
                        chosen.append(template)
                        due[spec.code] = (day, odometer)
                        continue
                    declined.append(template)
                    if rng.random() < 0.7:
                        # Declined here, done elsewhere before the next visit.
                        due[spec.code] = (day, odometer)
            if spec.adhoc and rng.random() < spec.adhoc:
                chosen.append(template)
        return chosen

    def _appointment(self, chunk: Chunk, cid: int, vid: int, loc: ShopLocation, start: datetime,
                     templates: list[Template], status: str, booked_at: datetime, advisor: int | None,
                     label: str) -> int:
        rng = self.rng
        aid = self.world.take_id("appointment")
        hours = sum(Decimal(t.spec.labor_hours) for t in templates)
        duration = min(480, max(30, int(math.ceil(float(hours) * 2) * 30)))
        notes = rng.choice(APPOINTMENT_NOTES) if rng.random() < 0.1 else ""
        chunk.rows["appointment"].append((aid, cid, vid, loc.id, start, duration, status, notes, advisor, booked_at))
        for template in templates:
            chunk.rows["appointment_service"].append((self.world.take_id("appointment_service"), aid, template.id))
        self._event(chunk, "appointment.booked", cid, "shop.appointment", aid, advisor, booked_at, {
            "start_at": _iso(start), "location": loc.name, "vehicle": label,
            "services": [t.spec.code for t in templates],
        })
        return aid

    def _future_appointment(self, chunk, cid, vid, loc, start, templates, label) -> None:
        rng = self.rng
        advisor = self._staff(self.world.advisor_ids)
        booked_at = self.as_of - timedelta(minutes=rng.randrange(30, 14 * 24 * 60))
        status = AppointmentStatus.CONFIRMED if rng.random() < 0.4 else AppointmentStatus.BOOKED
        aid = self._appointment(chunk, cid, vid, loc, start, templates, status, booked_at, advisor, label)
        if status == AppointmentStatus.CONFIRMED:
            at = booked_at + (self.as_of - booked_at) * rng.random()
            self._event(chunk, "appointment.confirmed", cid, "shop.appointment", aid, advisor, at,
                        {"from": AppointmentStatus.BOOKED})

    def _visit(self, chunk: Chunk, cid: int, vid: int, loc: ShopLocation, start: datetime,
               odometer: int, templates: list[Template], label: str, fleet: bool, state: dict,
               *, on_board: bool = False) -> None:
        rng, world = self.rng, self.world
        advisor = self._staff(world.advisor_ids)
        # Some bookings never turn into work: cancelled or missed before the real visit.
        roll = rng.random()
        if roll < 0.09:
            earlier = start - timedelta(days=rng.randint(2, 20))
            status = AppointmentStatus.CANCELLED if roll < 0.06 else AppointmentStatus.NO_SHOW
            booked = earlier - timedelta(days=rng.randint(1, 14))
            if booked > self.start:
                aid = self._appointment(chunk, cid, vid, loc, earlier, templates, status, booked, advisor, label)
                at = earlier - timedelta(hours=rng.randint(2, 48)) if status == AppointmentStatus.CANCELLED else earlier + timedelta(hours=1)
                self._event(chunk, f"appointment.{status}", cid, "shop.appointment", aid, advisor, at,
                            {"from": AppointmentStatus.BOOKED})
        scheduled = rng.random() < 0.75
        appointment_id = None
        opened = start + timedelta(minutes=rng.randint(-10, 15)) if scheduled else start
        opened = min(opened, self.as_of)
        if scheduled:
            booked = start - timedelta(days=rng.randint(1, 21), minutes=rng.randrange(600))
            appointment_id = self._appointment(chunk, cid, vid, loc, start, templates,
                                               AppointmentStatus.CHECKED_IN, booked, advisor, label)
            self._event(chunk, "appointment.checked_in", cid, "shop.appointment", appointment_id,
                        advisor, opened, {"from": AppointmentStatus.BOOKED})
        self._job_card(chunk, cid, vid, loc, opened, odometer, templates, label, fleet, advisor,
                       appointment_id, state, on_board=on_board)

    def _job_card(self, chunk: Chunk, cid: int, vid: int, loc: ShopLocation, opened: datetime,
                  odometer: int, templates: list[Template], label: str, fleet: bool,
                  advisor: int | None, appointment_id: int | None, state: dict,
                  *, on_board: bool = False) -> None:
        rng, world = self.rng, self.world
        jid = world.take_id("job_card")
        number = loc.next_number
        loc.next_number += 1
        hours = float(sum(Decimal(t.spec.labor_hours) for t in templates))
        started = opened + timedelta(minutes=rng.randint(5, 60))
        completed = started + timedelta(minutes=int(hours * 60 * rng.uniform(0.8, 1.4)) + 10)
        closed = completed + timedelta(minutes=rng.randint(15, 240))
        cancelled_at = None
        status = JobCardStatus.CLOSED
        if on_board:
            # Waiting for parts or approval: still open or in progress, whatever the clock says.
            started = min(started, self.as_of)
            if rng.random() < 0.3:
                status, started = JobCardStatus.OPEN, None
            else:
                status = JobCardStatus.IN_PROGRESS
            completed = closed = None
        elif rng.random() < 0.015:
            status, cancelled_at = JobCardStatus.CANCELLED, started
            started = completed = closed = None
        elif completed > self.as_of:
            # Today's work: still on the board.
            if started > self.as_of:
                status, started = JobCardStatus.OPEN, None
            else:
                status = JobCardStatus.IN_PROGRESS
            completed = closed = None
        elif closed > self.as_of or (self.as_of - completed < timedelta(days=2) and rng.random() < 0.5):
            status, closed = JobCardStatus.COMPLETED, None
        lines, totals = self._lines(jid, loc, templates, opened, fleet)
        chunk.rows["job_line"].extend(lines)
        tech_note = ""
        if status in (JobCardStatus.COMPLETED, JobCardStatus.CLOSED) and rng.random() < 0.25:
            tech_note = next((TECH_NOTES[t.spec.code] for t in templates if t.spec.code in TECH_NOTES),
                             "Multi-point inspection done; no concerns.")
        last_change = closed or completed or started or cancelled_at or opened
        subtotal, discount, tax, total = totals
        chunk.rows["job_card"].append((
            jid, loc.id, number, cid, vid, appointment_id, advisor, odometer, status, tech_note,
            subtotal, discount, tax, total, opened, started, completed, closed, cancelled_at, last_change,
        ))
        state["updated"] = max(state["updated"], last_change)
        subject = "shop.jobcard"
        first_event = len(chunk.rows["event"])
        self._event(chunk, "jobcard.opened", cid, subject, jid, advisor, opened,
                    {"number": number, "location": loc.name, "vehicle": label})
        steps = (
            ("jobcard.started", started, JobCardStatus.OPEN),
            ("jobcard.completed", completed, JobCardStatus.IN_PROGRESS),
            ("jobcard.closed", closed, JobCardStatus.COMPLETED),
        )
        # Same text json.dumps would give for {"number", "from", "total"}: rendered once per card.
        tail = f', "total": "{total}"}}'
        for kind, at, previous in steps:
            if at is not None:
                self._event(chunk, kind, cid, subject, jid, advisor, at,
                            f'{{"number": {number}, "from": "{previous}"{tail}')
        if cancelled_at is not None:
            self._event(chunk, "jobcard.cancelled", cid, subject, jid, advisor, cancelled_at,
                        f'{{"number": {number}, "from": "{JobCardStatus.OPEN}"{tail}')
        out = closed
        if status == JobCardStatus.COMPLETED:
            out = min(completed + timedelta(minutes=self.vrng.randint(10, 180)), self.as_of)
        elif status == JobCardStatus.CANCELLED:
            out = min(cancelled_at + timedelta(minutes=self.vrng.randint(5, 30)), self.as_of)
        self._customer_visit(chunk, cid, vid, loc, jid, status, appointment_id, advisor, odometer,
                             opened, out, total, label, templates, lines)
        if self._ledger is not None and completed is not None:
            self._cards.append(CardSeen(
                jid, loc, number, advisor, completed, closed, lines, len(chunk.rows["job_card"]) - 1,
                len(chunk.rows["visit"]) - 1, range(first_event, len(chunk.rows["event"])),
            ))

    def _customer_visit(self, chunk: Chunk, cid: int, vid: int, loc: ShopLocation, jid: int,
                        card_status: str, appointment_id: int | None, advisor: int | None,
                        odometer: int, check_in: datetime, check_out: datetime | None,
                        total: Decimal, label: str, templates: list[Template], lines: list[tuple]) -> None:
        """The visit of one job card as ``visit_check_in`` / ``visit_check_out`` / ``visit_rate``
        would have written it, with the recommendations made during it.
        """
        rng, world = self.vrng, self.world
        cancelled = card_status == JobCardStatus.CANCELLED
        spend = Decimal("0.00") if cancelled else total  # visits.services.spend_of
        visit_id = world.take_id("visit")
        visit_type = VisitType.SCHEDULED if appointment_id is not None else VisitType.WALK_IN
        subject = "visits.customervisit"
        self._event(chunk, "visit.checked_in", cid, subject, visit_id, advisor, check_in, {
            "visit_type": visit_type, "location": loc.name, "vehicle": label, "job_card": jid,
            "appointment": appointment_id, "odometer_in": odometer,
        })
        updated = check_in
        if not cancelled:
            updated = max(updated, self._recommendations(
                chunk, cid, visit_id, jid, loc, advisor, check_in, check_out, templates, lines,
            ))
        score = None
        comment = source = ""
        rated_at = rated_by = None
        if check_out is not None:
            updated = max(updated, check_out)
            self._event(chunk, "visit.checked_out", cid, subject, visit_id, advisor, check_out, {
                "total_spend": str(spend), "currency": loc.city.currency, "job_card": jid,
                "job_card_status": card_status,
                "location": loc.name,
            })
            if not cancelled and rng.random() < 0.35:
                rated_at = check_out + timedelta(minutes=rng.randint(20, 3 * 24 * 60))
                if rated_at <= self.as_of:
                    score = rng.choices(range(1, 6), SATISFACTION_WEIGHTS)[0]
                    comment = rng.choice(SATISFACTION_COMMENTS[score]) if rng.random() < 0.3 else ""
                    if rng.random() < 0.65:
                        source, actor_label = SatisfactionSource.CUSTOMER_LINK, f"customer:{cid}"
                    else:
                        source, rated_by, actor_label = SatisfactionSource.ADVISOR, advisor, None
                    updated = max(updated, rated_at)
                    self._event(chunk, "visit.rated", cid, subject, visit_id, rated_by, rated_at,
                                {"score": score, "source": source, "has_comment": bool(comment)},
                                label=actor_label)
                else:
                    rated_at = None
        self._last_out = OPEN if check_out is None else check_out
        chunk.rows["visit"].append((
            visit_id, cid, vid, jid, appointment_id, visit_type, loc.id, advisor, odometer, check_in,
            check_out, spend, score, comment, source, rated_at, rated_by, updated,
        ))

    def _recommendations(self, chunk: Chunk, cid: int, visit_id: int, jid: int, loc: ShopLocation,
                         advisor: int | None, check_in: datetime, check_out: datetime | None,
                         templates: list[Template], lines: list[tuple]) -> datetime:
        """Work recommended during a visit: done on the card (accepted, linked to its labor line,
        recovering a standing decline of the same service), or due but left undone (declined,
        or still undecided while the car is here). Returns the last decision time.
        """
        rng = self.vrng
        end = check_out or self.as_of
        span = max(0, int((end - check_in).total_seconds()))
        imperial = loc.city.distance_unit != "km"
        labor = {row[5]: row[0] for row in lines if row[3] == JobLineKind.LABOR and row[5] is not None}
        last = check_in
        plan: list[tuple[Template, str]] = []
        for template in templates:
            if template.spec.code in catalog.OIL_CODES:
                continue
            if template.id in self._standing or rng.random() < 0.2:
                plan.append((template, RecommendationStatus.ACCEPTED))
        for template in self._declined:
            if rng.random() < 0.25 and len(plan) < 3:
                undecided = check_out is None and rng.random() < 0.5
                plan.append((template, RecommendationStatus.SUGGESTED if undecided
                             else RecommendationStatus.DECLINED))
        user_label = "system:seed" if advisor is None else f"user:{advisor}"
        for template, status in plan:
            spec = template.spec
            rec_id = self.world.take_id("visit_recommendation")
            created = check_in + timedelta(seconds=int(span * rng.uniform(0.02, 0.3)))
            decided = created + timedelta(seconds=int((end - created).total_seconds() * rng.uniform(0.05, 0.6)))
            measure = MEASUREMENTS.get(spec.code)
            measured = measure(rng, imperial) if measure is not None else ""
            price = local_price(Decimal(spec.price), loc.city.currency)
            recovered_from = self._standing.pop(template.id, None)
            job_line = labor.get(template.id) if status == RecommendationStatus.ACCEPTED else None
            subject = "visits.visitrecommendation"
            self._event(chunk, "recommendation.suggested", cid, subject, rec_id, advisor, created, {
                "visit": visit_id, "service": spec.code, "name": spec.name, "measured_value": measured,
                "estimated_price": str(price), "recovered_from": recovered_from,
            })
            declined_at = None
            reason = ""
            if status == RecommendationStatus.SUGGESTED:
                decided = None
            elif status == RecommendationStatus.DECLINED:
                declined_at = decided
                reason = rng.choice(DECLINE_REASONS)
                self._standing[template.id] = rec_id
                self._event(chunk, "recommendation.declined", cid, subject, rec_id, advisor, decided, {
                    "visit": visit_id, "service": spec.code, "name": spec.name,
                    "measured_value": measured, "estimated_price": str(price), "reason": reason,
                })
            else:
                self._event(chunk, "recommendation.accepted", cid, subject, rec_id, advisor, decided, {
                    "visit": visit_id, "service": spec.code, "name": spec.name,
                    "estimated_price": str(price), "work": "job_line",
                    "job_card": None if job_line is None else jid,
                    "appointment": None, "recovered": recovered_from is not None,
                    "recovered_from": recovered_from,
                })
            last = max(last, decided or created)
            chunk.rows["visit_recommendation"].append((
                rec_id, visit_id, template.id, status, "", measured, price, advisor, created,
                None if decided is None else advisor, "" if decided is None else user_label,
                decided, declined_at, reason, recovered_from, job_line, None,
            ))
        return last

    def _line_group(self, loc: ShopLocation, template: Template, payer: str) -> tuple:
        """The labor and part lines one service puts on a card at a shop, with their sums."""
        key = (loc.id, template.id, payer)
        group = self._groups.get(key)
        if group is None:
            city, spec, world = loc.city, template.spec, self.world
            price = local_price(Decimal(spec.price), city.currency)
            bodies = [((JobLineKind.LABOR, spec.name, template.id, None, Decimal("1"), price,
                        city.labor_tax, payer), True)]
            for sku, quantity in spec.parts:
                bodies.append(((JobLineKind.PART, _part_name(sku), None, world.part_ids[sku],
                                Decimal(quantity), local_price(world.part_prices[sku], city.currency),
                                city.parts_tax, payer), False))
            net = tax = Decimal("0")
            for body, _ in bodies:
                line_net, line_tax = _amounts(body[0], body[4], body[5], body[6])
                net += line_net
                tax += line_tax
            group = self._groups[key] = (tuple(bodies), net, tax, price)
        return group

    def _lines(self, jid: int, loc: ShopLocation, templates: list[Template], opened: datetime,
               fleet: bool) -> tuple[list[tuple], tuple[Decimal, Decimal, Decimal, Decimal]]:
        rng, world = self.rng, self.world
        city = loc.city
        technician = self._staff(world.technician_ids)
        rows: list[tuple] = []
        subtotal = discount = tax = Decimal("0")
        labor_total = Decimal("0")
        position = 0
        warranty = rng.random() < 0.03
        created = opened + timedelta(minutes=rng.randint(1, 20))
        next_id = world.next_ids["job_line"]
        base_payer = Payer.FLEET if fleet else Payer.CUSTOMER
        for template in templates:
            payer = Payer.WARRANTY if warranty and template.spec.category == "Brakes" else base_payer
            bodies, net, line_tax, labor_price = self._line_group(loc, template, payer)
            subtotal += net
            tax += line_tax
            labor_total += labor_price
            for body, is_labor in bodies:
                position += 1
                rows.append((next_id, jid, position, *body, technician if is_labor else None, created))
                next_id += 1
        extras = []
        if rng.random() < 0.4:
            name, amount = catalog.SHOP_SUPPLIES
            extras.append((JobLineKind.FEE, name, None, None, Decimal("1"),
                           local_price(Decimal(amount), city.currency), city.parts_tax, base_payer))
        if rng.random() < 0.1:
            name, amount = rng.choice(catalog.DISCOUNTS)
            value = local_price(Decimal(amount), city.currency)
            if labor_total >= value * 3:
                extras.append((JobLineKind.DISCOUNT, name, None, None, Decimal("1"), value,
                               city.labor_tax, Payer.CUSTOMER))
        for body in extras:
            net, line_tax = _amounts(body[0], body[4], body[5], body[6])
            if body[0] == JobLineKind.DISCOUNT:
                discount -= net
            else:
                subtotal += net
            tax += line_tax
            position += 1
            rows.append((next_id, jid, position, *body, None, created))
            next_id += 1
        world.next_ids["job_line"] = next_id
        total = subtotal - discount + tax
        return rows, (subtotal, discount, tax, total)


@cache
def _part_name(sku: str) -> str:
    return next(name for s, name, _ in catalog.PARTS if s == sku)
