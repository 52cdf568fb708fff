"""Background work of the core app (django-tasks). Safe to run twice at once."""

from __future__ import annotations

from django_tasks import task

from .housekeeping import task_results_tidy


@task()
def core_task_results_tidy() -> dict[str, int]:
    """Prune old task results and mark those whose worker was lost (see core/housekeeping.py)."""
    tidied = task_results_tidy()
    return {"pruned": tidied.pruned, "lost": tidied.lost}
