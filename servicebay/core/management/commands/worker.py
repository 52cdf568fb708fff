from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a background worker for the configured task backend (database or RQ)."

    def handle(self, *args, **options):
        if "django_tasks_db" in settings.TASKS["default"]["BACKEND"]:
            call_command("db_worker")
        else:
            call_command("rqworker", "default")
