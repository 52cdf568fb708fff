from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "servicebay.segments"
    label = "segments"
    verbose_name = "Segments"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
