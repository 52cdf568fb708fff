from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "servicebay.messaging"
    label = "messaging"
    verbose_name = "Messaging"
