"""The installed packages' admin columns are named in the reader's language, and a package version that no longer
has what is named keeps working."""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib.admin import site
from django.contrib.admin.utils import label_for_field
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from datasets.models import ValidatedPiece
from llmplatform.packages import describe_columns


def test_it_names_the_columns_django_axes_computes():
    with translation.override("zh-hans"):
        assert str(label_for_field("status", AccessAttempt, site.get_model_admin(AccessAttempt))) == "状态"


def test_it_leaves_what_a_package_no_longer_has_or_names_itself():
    cleanup = AccessAttemptAdmin.cleanup_expired_attempts.short_description

    describe_columns(AccessAttempt, {"no_such_column": _("status"), "cleanup_expired_attempts": _("status")})
    describe_columns(ValidatedPiece, {"status": _("status")})  # a model the admin does not list

    assert not hasattr(AccessAttemptAdmin, "no_such_column")
    assert AccessAttemptAdmin.cleanup_expired_attempts.short_description is cleanup
