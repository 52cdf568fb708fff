"""Every write of the segments app (split by subject: stats, segments, exports)."""

from .exports import (
    export_log_finish,
    export_log_start,
    export_page,
    export_prepare,
    export_stream,
)
from .segments import (
    segment_archive,
    segment_count,
    segment_create,
    segment_import_static,
    segment_update,
    snapshot_take,
    snapshots_take_due,
)
from .stats import customer_stats_rebuild, customer_stats_refresh

__all__ = [
    "customer_stats_rebuild",
    "customer_stats_refresh",
    "export_log_finish",
    "export_log_start",
    "export_page",
    "export_prepare",
    "export_stream",
    "segment_archive",
    "segment_count",
    "segment_create",
    "segment_import_static",
    "segment_update",
    "snapshot_take",
    "snapshots_take_due",
]
