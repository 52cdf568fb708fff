"""Enumerations of the segments app."""

from __future__ import annotations

from django.db import models


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", "Dynamic (filter, re-evaluated)"
    STATIC = "static", "Static (a frozen list)"


class SnapshotSource(models.TextChoices):
    MANUAL = "manual", "Taken by hand"
    SCHEDULE = "schedule", "Scheduled"
    IMPORT = "import", "CSV import"


class ExportFormat(models.TextChoices):
    JSON = "json", "JSON page"
    CSV = "csv", "CSV"
    NDJSON = "ndjson", "NDJSON"


class ExportStatus(models.TextChoices):
    STREAMING = "streaming", "Streaming"
    COMPLETED = "completed", "Completed"
    ABORTED = "aborted", "Aborted by the client"


class ContactChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"


class ContactPurpose(models.TextChoices):
    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"
