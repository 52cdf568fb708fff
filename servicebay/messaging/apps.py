from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "servicebay.messaging"
    label = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
