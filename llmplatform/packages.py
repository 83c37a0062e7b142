"""The admin pages of installed packages (django-axes, django-q2) in the reader's language.

Their fields, columns and actions are messages of the packages, translated in `locale_packages/`
(its README says why there). What they leave without a message is named here: their apps (one is
named after its package, the other by a setting of plain text), and the columns a package's admin
computes without a description.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from axes.apps import AppConfig as AxesAppConfig
from django.contrib import admin
from django.db.models import Model
from django.utils.translation import gettext_lazy as _
from django_q.apps import DjangoQConfig as DjangoQAppConfig

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def describe_columns(model: type[Model], descriptions: dict[str, StrOrPromise]) -> None:
    """Name the columns the admin of `model` computes in methods its package left undescribed. A version of the
    package without that admin or that method, or that describes it itself, keeps its own."""

    if not admin.site.is_registered(model):
        return
    admin_class = type(admin.site.get_model_admin(model))
    for name, description in descriptions.items():
        column = getattr(admin_class, name, None)
        if callable(column) and not hasattr(column, "short_description"):
            admin.display(column, description=description)


class AxesConfig(AxesAppConfig):
    """django-axes, named for what it does for operators rather than after its package."""

    verbose_name = _("Login protection")

    def ready(self) -> None:
        super().ready()
        from axes.models import AccessAttempt

        # The admin has registered every package's pages by now: django.contrib.admin is the first app.
        describe_columns(AccessAttempt, {"expiration": _("expires at"), "status": _("status")})


class DjangoQConfig(DjangoQAppConfig):
    """django-q2, named in the reader's language (its own name is Q_CLUSTER's `label`, plain text)."""

    verbose_name = _("Background tasks")
