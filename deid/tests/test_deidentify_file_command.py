"""manage.py deidentify_file: a scrubbed copy of a local file and a report without the data."""

import io
import json

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.django_db
def test_it_writes_a_scrubbed_copy_and_reports_counts(tmp_path):
    source = tmp_path / "chat.txt"
    source.write_text("手机13812345678\n邮箱bob@example.com\n", encoding="utf-8")
    destination = tmp_path / "clean.txt"
    out = io.StringIO()
    call_command("deidentify_file", str(source), str(destination), "--seed", "3", stdout=out)
    report = json.loads(out.getvalue())
    assert report["counts"] == {"PHONE_NUMBER": 1, "EMAIL_ADDRESS": 1} and report["lines"] == 2
    assert report["policy_version"] == "2024-01-01"
    clean = destination.read_text(encoding="utf-8")
    assert "13812345678" not in clean and "bob@example.com" not in clean
    assert "13812345678" not in out.getvalue()


@pytest.mark.django_db
def test_it_refuses_to_overwrite_and_unknown_policies(tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("x\n", encoding="utf-8")
    with pytest.raises(CommandError, match="exists"):
        call_command("deidentify_file", str(source), str(source))
    with pytest.raises(CommandError, match="policy"):
        call_command("deidentify_file", str(source), str(tmp_path / "b.txt"), "--policy", "nope")
    with pytest.raises(CommandError, match="not a file"):
        call_command("deidentify_file", str(tmp_path / "missing"), str(tmp_path / "c.txt"))
