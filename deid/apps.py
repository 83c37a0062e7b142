from django.apps import AppConfig


class DeidConfig(AppConfig):
    name = "deid"
