"""Extension points other apps hook into, sent *inside* the writing transaction.

Receivers run in the same transaction as the change, so their writes commit or roll back with
it (visits follow the job card's total; loyalty earns on completion and reverses on reopen).
Receivers must be idempotent: a retried request sends the signal again.

- ``job_card_status_changed(job_card, previous, actor)`` after every status change.
- ``job_card_totals_changed(job_card, actor)`` after lines were added, changed or removed.
- ``job_line_removed(job_card, line, actor)`` before totals are recomputed (``line`` is unsaved).
"""

from django.dispatch import Signal

job_card_status_changed = Signal()
job_card_totals_changed = Signal()
job_line_removed = Signal()
