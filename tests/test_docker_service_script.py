"""scripts/services/docker.sh builds its test image from the Debian mirror this machine's apt uses."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "services" / "docker.sh"

pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt (a Debian machine)")

ONE_LINE_SOURCES = """\
# deb http://commented-out.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/cloud.gpg] https://packages.example.com/apt cloud-sdk-bookworm main
deb http://security.mirror.example/debian-security bookworm-security main
"""
DEB822_SOURCES = """\
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb-src deb
URIs: http://mirror.internal.example/debian-mirror/
Suites: bookworm bookworm-updates
Components: main
"""


def mirror_seen(tmp_path: Path, *, sources_list: str = "", sources: dict[str, str] | None = None, **env: str) -> str:
    """What `docker.sh mirror` prints on a machine whose apt has these sources."""
    etc = tmp_path / "etc" / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list").write_text(sources_list)
    for name, text in (sources or {}).items():
        (etc / "sources.list.d" / name).write_text(text)
    config = tmp_path / "apt.conf"
    config.write_text(f'Dir::Etc "{etc}";\nDir::State::lists "{tmp_path / "lists"}";\n')
    environment = {key: value for key, value in os.environ.items() if key != "LLMP_DEBIAN_MIRROR"}
    result = subprocess.run(
        [str(SCRIPT), "mirror"],
        env={**environment, "APT_CONFIG": str(config), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_it_takes_the_mirror_apt_has_for_bookworm(tmp_path):
    seen = mirror_seen(tmp_path, sources_list=ONE_LINE_SOURCES, sources={"debian.sources": DEB822_SOURCES})

    assert seen == "http://mirror.internal.example/debian-mirror"


def test_it_reads_one_line_list_files_too(tmp_path):
    listed = "deb [trusted=yes] http://apt-cache.corp.example:3142/debian bookworm main contrib\n"

    assert mirror_seen(tmp_path, sources={"mirror.list": listed}) == "http://apt-cache.corp.example:3142/debian"


def test_it_falls_back_to_debians_redirector_only_without_a_debian_source(tmp_path):
    assert mirror_seen(tmp_path, sources_list=ONE_LINE_SOURCES) == "http://deb.debian.org/debian"


def test_it_lets_an_operator_name_the_mirror(tmp_path):
    seen = mirror_seen(tmp_path, sources_list=ONE_LINE_SOURCES, LLMP_DEBIAN_MIRROR="http://chosen.example/debian")

    assert seen == "http://chosen.example/debian"
