"""What goes to the warehouse: one entry per table, resolved lazily against installed apps.

A table is synced only once its app defines the model, so the list grows as features land.
``personal`` names the columns ``--pseudonymise`` replaces with keyed hashes (joins still work,
because the same value always hashes the same way).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from django.apps import apps
from django.db import models

DELETED = "_sb_deleted"


@dataclass(frozen=True)
class WarehouseTable:
    name: str
    model_label: str
    personal: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def model(self) -> type[models.Model] | None:
        app_label, model_name = self.model_label.split(".")
        try:
            return apps.get_model(app_label, model_name)
        except LookupError:
            return None

    def fields(self) -> list[models.Field]:
        model = self.model()
        assert model is not None
        return [f for f in model._meta.concrete_fields if f.attname not in self.exclude]

    @property
    def db_table(self) -> str:
        return self.model()._meta.db_table

    @property
    def pk(self) -> str:
        return self.model()._meta.pk.attname


TABLES: tuple[WarehouseTable, ...] = (
    WarehouseTable("locations", "shop.Location"),
    WarehouseTable("customers", "shop.Customer",
                   personal=("first_name", "last_name", "phone", "email", "birthday")),
    WarehouseTable("vehicles", "shop.Vehicle", personal=("vin", "plate")),
    WarehouseTable("service_templates", "shop.ServiceTemplate"),
    WarehouseTable("parts", "shop.Part"),
    WarehouseTable("appointments", "shop.Appointment", personal=("notes",)),
    WarehouseTable("job_cards", "shop.JobCard", personal=("technician_notes",)),
    WarehouseTable("job_lines", "shop.JobLine"),
    WarehouseTable("visits", "visits.CustomerVisit", personal=("satisfaction_comment",)),
    WarehouseTable("recommendations", "visits.VisitRecommendation",
                   personal=("notes", "measured_value")),
    WarehouseTable("loyalty_balances", "loyalty.CustomerLoyaltyBalance"),
    WarehouseTable("loyalty_transactions", "loyalty.LoyaltyTransaction", personal=("notes",)),
    WarehouseTable("messages", "messaging.Message",
                   personal=("to_address", "subject", "body", "body_text", "body_html")),
    WarehouseTable("consent", "messaging.ConsentRecord", personal=("address", "note")),
    WarehouseTable("suppressions", "messaging.Suppression", personal=("address", "note")),
    WarehouseTable("segments", "segments.Segment"),
    WarehouseTable("segment_snapshots", "segments.SegmentSnapshot"),
    WarehouseTable("segment_members", "segments.SegmentMember"),
    WarehouseTable("customer_stats", "segments.CustomerStats"),
)


def available_tables(names: list[str] | None = None) -> list[WarehouseTable]:
    """The registered tables whose models exist here (optionally only ``names``)."""
    known = {t.name: t for t in TABLES}
    if names:
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(f"unknown warehouse table(s): {', '.join(unknown)}")
    chosen = [t for t in TABLES if not names or t.name in names]
    return [t for t in chosen if t.model() is not None]


_INT_TYPES = {
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
    "SmallIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField",
    "PositiveBigIntegerField", "ForeignKey", "OneToOneField",
}


def arrow_type(field: models.Field) -> pa.DataType:
    kind = field.get_internal_type()
    if kind in _INT_TYPES:
        return pa.int64()
    if kind == "DecimalField":
        return pa.decimal128(field.max_digits, field.decimal_places)
    if kind == "DateTimeField":
        return pa.timestamp("us", tz="UTC")
    if kind == "DateField":
        return pa.date32()
    if kind == "TimeField":
        return pa.time64("us")
    if kind == "BooleanField":
        return pa.bool_()
    if kind == "FloatField":
        return pa.float64()
    if kind == "DurationField":
        return pa.duration("us")
    return pa.string()


def arrow_schema(table: WarehouseTable) -> pa.Schema:
    fields = [
        pa.field(f.attname, arrow_type(f), nullable=not f.primary_key)
        for f in table.fields()
    ]
    return pa.schema([*fields, pa.field(DELETED, pa.bool_(), nullable=False)])


_NATIVE_TEXT = {"CharField", "TextField", "EmailField", "SlugField", "URLField"}


def column_converter(field: models.Field):
    """How a Python value from ``values_list`` becomes an Arrow-ready value (None: as it is).

    Most columns need nothing (text, numbers, Decimals, datetimes arrive in their Arrow form);
    skipping a per-cell call matters at millions of rows.
    """
    kind = field.get_internal_type()
    if kind == "JSONField":
        return lambda v: None if v is None else json.dumps(v, sort_keys=True, default=str)
    if arrow_type(field) == pa.string() and kind not in _NATIVE_TEXT:
        return lambda v: None if v is None else str(v)  # UUIDs, IP addresses, …
    return None


def rows_to_arrow(table: WarehouseTable, rows: list[tuple], *, deleted_ids: list[Any] = (),
                  transform=None) -> pa.Table:
    """An Arrow table of ``rows`` (values_list tuples in ``fields()`` order) plus tombstones.

    Tombstones carry only the primary key and ``_sb_deleted = true``; dlt's merge deletes them.
    """
    schema = arrow_schema(table)
    fields = table.fields()
    columns: list[list] = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in fields]
    pk_index = next(i for i, f in enumerate(fields) if f.primary_key)
    arrays = []
    for i, field in enumerate(fields):
        values = columns[i]
        convert = column_converter(field)
        if convert is not None:
            values = [convert(v) for v in values]
        if transform is not None:
            values = transform(field, values)
        if deleted_ids:
            values = values + (list(deleted_ids) if i == pk_index else [None] * len(deleted_ids))
        arrays.append(pa.array(values, type=schema.field(i).type))
    arrays.append(pa.array([False] * len(rows) + [True] * len(deleted_ids), type=pa.bool_()))
    return pa.Table.from_arrays(arrays, schema=schema)
