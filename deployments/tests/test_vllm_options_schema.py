"""deployments/vllm_options.json is what scripts/vllm_options_schema.py makes of the vLLM wheel it names.

vLLM's wheel is about 240 MB, and the generator imports vLLM (torch and all) for some
ten seconds: scripts/test downloads the wheel once into var/wheels/ and runs this test
in a step of its own with VLLM_WHEEL set, not in each database's run. Elsewhere it
skips, saying so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deployments.vllm_options import SCHEMA_PATH

pytestmark = pytest.mark.slow
GENERATOR = Path(__file__).resolve().parents[2] / "scripts" / "vllm_options_schema.py"


@pytest.fixture
def wheel() -> str:
    path = os.environ.get("VLLM_WHEEL", "")
    if not path:
        pytest.skip("VLLM_WHEEL is unset: scripts/test downloads vLLM's wheel and runs this check in its own step")
    if importlib.util.find_spec("torch") is None:
        pytest.skip("the generator imports vLLM, which needs torch (requirements-trainer.txt)")
    return path


def test_it_ships_the_options_the_generator_reads_from_the_wheel(wheel):
    shipped = json.loads(SCHEMA_PATH.read_text())

    result = subprocess.run(
        [sys.executable, str(GENERATOR), wheel], capture_output=True, text=True, timeout=600, check=False
    )

    assert result.returncode == 0, result.stderr[-3000:]
    generated = json.loads(result.stdout)
    assert generated["vllm_version"] == shipped["vllm_version"], f"{wheel} is not the vLLM the schema describes"
    differing = {json.dumps(option) for option in generated["options"]} ^ {
        json.dumps(option) for option in shipped["options"]
    }
    assert sorted({json.loads(option)["names"][0] for option in differing}) == []
    assert result.stdout == SCHEMA_PATH.read_text()
