"""`manage.py create_api_token <username> [--staff] [--password PW]`: a user with an API token.

Creates the user when missing (with a generated password unless one is given),
then prints the token scripts send as `Authorization: Token <key>`. Run it again
for an existing user to print their token; `--password` then resets the password.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create (or find) a user and print their API token; prints the password when it generated one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--staff", action="store_true", help="make the user staff (admin site, audit log)")
        parser.add_argument("--password", help="set this password (default: generate one for a new user)")

    @transaction.atomic
    def handle(self, *args, username: str, staff: bool, password: str | None, **options) -> None:
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
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"{'Created' if created else 'Found'} user {username}{' (staff)' if user.is_staff else ''}.")
        if generated:
            self.stdout.write(f"password: {password}")
        self.stdout.write(f"token: {token.key}")
