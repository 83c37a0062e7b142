from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from django.contrib.auth import signals

        from audit.signals import logged_in, logged_out, login_failed

        signals.user_logged_in.connect(logged_in, dispatch_uid="audit-login")
        signals.user_logged_out.connect(logged_out, dispatch_uid="audit-logout")
        signals.user_login_failed.connect(login_failed, dispatch_uid="audit-login-failed")
