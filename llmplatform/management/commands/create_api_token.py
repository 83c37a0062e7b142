"""`manage.py create_api_token <username> [--staff] [--grant APP.CODENAME ...] [--password PW]`.

`--staff` makes an operator: staff, in the `operators` group (the admin's permissions
for running the platform; users and their tokens stay with superusers).

Creates the user when missing (with a generated password unless one is given),
then prints the token scripts send as `Authorization: Token <key>`. Run it again
for an existing user to print their token; `--password` then resets the password.
`--grant` gives the user a permission, e.g. `deid.view_pii_mapping`: seeing original
personal data beside its pseudonyms (`return_mapping`, de-identification jobs' seeds).
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from llmplatform.users import OPERATORS_GROUP


class Command(BaseCommand):
    help = "Create (or find) a user and print their API token; prints the password when it generated one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--staff",
            action="store_true",
            help="make the user an operator: staff, in the operators group (admin site, audit log)",
        )
        parser.add_argument(
            "--grant",
            action="append",
            default=[],
            metavar="APP.CODENAME",
            help="give the user this permission (repeatable), e.g. deid.view_pii_mapping",
        )
        parser.add_argument("--password", help="set this password (default: generate one for a new user)")

    @transaction.atomic
    def handle(self, *args, username: str, staff: bool, grant: list[str], password: str | None, **options) -> None:
        permissions = [permission_named(name) for name in grant]
        user_model = get_user_model()
        # `defaults` named, so that the unpacked lookup cannot be taken for it.
        user, created = user_model.objects.get_or_create(defaults=None, **{user_model.USERNAME_FIELD: username})
        generated = created and password is None
        if generated:
            password = secrets.token_urlsafe(12)
        if password is not None:
            user.set_password(password)
        if staff:
            user.is_staff = True
        user.save()
        if staff:
            user.groups.add(Group.objects.get(name=OPERATORS_GROUP))
        user.user_permissions.add(*permissions)
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"{'Created' if created else 'Found'} user {username}{' (staff)' if user.is_staff else ''}.")
        for name in grant:
            self.stdout.write(f"granted: {name}")
        if generated:
            self.stdout.write(f"password: {password}")
        self.stdout.write(f"token: {token.key}")


def permission_named(name: str) -> Permission:
    """`app_label.codename` as `user.has_perm` spells it; an unknown one stops the command before any change."""
    app_label, _, codename = name.partition(".")
    try:
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)
    except Permission.DoesNotExist:
        raise CommandError(
            f"No permission {name!r}; give it as app_label.codename, e.g. deid.view_pii_mapping."
        ) from None
