"""Schemathesis over every operation of /openapi.json, as a project member and as staff, against
the platform served the README's production way on loopback.

    .venv/bin/python security/schemathesis_run.py [--max-examples 30] [--database postgres://…] [--keep]

What it does, in a throwaway folder (removed at the end unless `--keep`):

1. Settings as in production (DEBUG off, a fresh SECRET_KEY, ALLOWED_HOSTS 127.0.0.1), its own
   DATA_DIR, training directory and models folder, two GPUs named by GPU_IDS; SQLite in DATA_DIR
   unless `--database` names a PostgreSQL database (it must exist and be empty).
2. `manage.py migrate`, `collectstatic`, `create_api_token` for a staff user and a member user,
   `install_demo` (the demo project and its training files, created by staff).
3. `gunicorn llmplatform.wsgi` on 127.0.0.1 (gunicorn.conf.py: WEB_WORKERS=2 workers of 4 threads)
   and `manage.py qcluster` (Q_WORKERS=2). A run's command is `sleep 20`, not a trainer: runs go
   queued, running, finished as real processes without taking the machine's CPUs.
4. Through the API, things for the stateful phase to start from: the member added to the demo
   project and a project of their own, a dataset with a file, a resumable upload, training configs,
   a run and a deployment of each user (model servers are the tests' stand-in for vLLM,
   deployments/tests/fixtures/fake_vllm.py, stopped at the end), a de-identification policy
   and job.
5. `schemathesis run` once per user, every phase (examples, coverage, fuzzing, stateful), every
   check, `--max-examples` per operation, and a JSON and JUnit report per user in the folder.

It prints schemathesis' own summary for each user, then the figures of both (operations, test
cases, failures per check). It exits 0 when no check failed but the two that judge requests
rather than answers (positive_data_acceptance, negative_data_rejection: security/REPORT.md says
why they are reported, not held to 0).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SCHEMATHESIS = Path(PYTHON).with_name("schemathesis")
PHASES = "examples,coverage,fuzzing,stateful"
STATEFUL_MAX_STEPS = 12
USERS = {"member": "fuzz-member", "staff": "fuzz-staff"}
FAKE_VLLM = REPO / "deployments" / "tests" / "fixtures" / "fake_vllm.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def platform_environment(scratch: Path, database: str | None) -> dict[str, str]:
    data_dir = scratch / "data"
    ports = 20000 + 50 * secrets.randbelow(180)  # a range of 50 ports other runs are unlikely to share
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "llmplatform.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATA_DIR": str(data_dir),
        "HOST_TRAINING_DIR": str(scratch / "training"),
        "MODELS_DIR": str(scratch / "models"),
        "GPU_IDS": "0,1",
        # vLLM needs a GPU: the tests' stand-in serves a model's endpoints without one.
        "VLLM_COMMAND": f"{PYTHON} {FAKE_VLLM} serve {{model_path}} --host 127.0.0.1 --port {{port}} "
        "--served-model-name {name}",
        "DEPLOY_PORT_RANGE": f"{ports}-{ports + 49}",
        # A run's process lives a while and does nothing: cancels find it running, and the machine stays free.
        "TRAINING_COMMAND": "bash -c 'sleep 20' {training_yaml}",
        "WEB_WORKERS": "2",
        "WEB_THREADS": "4",
        "Q_WORKERS": "2",
    }
    environment.pop("DATABASE_URL", None)
    if database:
        environment["DATABASE_URL"] = database
    for folder in (data_dir, scratch / "training", scratch / "models" / "tiny-model"):
        folder.mkdir(parents=True, exist_ok=True)
    (scratch / "models" / "tiny-model" / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}\n')
    return environment


def manage(environment: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *arguments], cwd=REPO, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"manage.py {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def token_of(environment: dict[str, str], username: str, *, staff: bool) -> str:
    output = manage(environment, "create_api_token", username, *(["--staff"] if staff else []))
    return next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("token: "))


class Api:
    """Just enough of an HTTP client to seed the platform through its own API."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        files: dict[str, tuple[str, bytes]] | None = None,
        refused_ok: bool = False,
    ) -> Any:
        headers = {"Authorization": f"Token {self.token}"}
        data: bytes | None = None
        if files is not None:
            boundary = uuid.uuid4().hex
            parts = [
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n".encode()
                + content
                + b"\r\n"
                for name, (filename, content) in files.items()
            ]
            parts += [
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                for name, value in (body or {}).items()
            ]
            data = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)  # noqa: S310 (loopback)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
                content = response.read()
        except urllib.error.HTTPError as refused:
            if refused_ok:
                return None
            sys.exit(f"seeding: {method} {path} answered {refused.code}: {refused.read().decode(errors='replace')}")
        return json.loads(content) if content else None


def start(environment: dict[str, str], log: Path, *arguments: str) -> subprocess.Popen:
    with open(log, "wb") as output:
        return subprocess.Popen(
            [PYTHON, *arguments],
            cwd=REPO,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped whole, workers and all
        )


def wait_until_healthy(base: str) -> None:
    """/healthz answers 200 once qcluster's first heartbeat is in."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5):  # noqa: S310 (loopback)
                return
        except OSError:
            time.sleep(0.5)
    sys.exit("/healthz did not answer 200 within 120 s; see qcluster.log")


def wait_until_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn exited while starting; see gunicorn.log")
        try:
            with urllib.request.urlopen(base + "/openapi.json", timeout=5):  # noqa: S310 (loopback)
                return
        except OSError:
            time.sleep(0.5)
    sys.exit("gunicorn did not answer within 120 s")


def seed(base: str, staff_token: str, member_token: str) -> None:
    """Objects of every kind, some the member's, some staff's, for stateful links to start from."""
    staff, member = Api(base, staff_token), Api(base, member_token)
    staff.call("PATCH", "/projects/demo", {"members": [USERS["member"]]})
    member.call("POST", "/projects", {"name": "fuzz-member-project", "description": "The member's own."})
    records = (REPO / "demo" / "training" / "datasets" / "demo_sft.jsonl").read_bytes()
    config = (REPO / "demo" / "training" / "configs" / "demo_sft.yaml").read_bytes()
    datasets = {}
    for api in (member, staff):
        dataset = datasets[api] = api.call(
            "POST", "/v1/datasets", {"name": "fuzz-dataset", "task_type": "sft", "project": "demo"}
        )
        api.call("PUT", f"/v1/datasets/{dataset['id']}/files", files={"file": ("records.jsonl", records)})
        api.call("POST", f"/v1/datasets/{dataset['id']}/uploads", {"filename": "big.jsonl", "total_bytes": 4096})
        api.call("PUT", "/v1/train-config", files={"file": ("fuzz.yaml", config)})
        api.call("POST", "/v1/train-configs", {"project": "demo"}, files={"file": ("kept.yaml", config)})
        api.call("POST", "/projects/demo/runs", {"name": "fuzz-run"})
        api.call("POST", "/deployments", {"model_path": "tiny-model", "project": "demo"})
    staff.call("POST", "/v1/deid-policies", {"id": "fuzz-policy", "entities": {"EMAIL_ADDRESS": "pseudonymize"}})
    member.call("POST", f"/v1/datasets/{datasets[member]['id']}/deidentify", {"policy_id": "fuzz-policy"})


def run_schemathesis(base: str, token: str, report_dir: Path, max_examples: int) -> int:
    report_dir.mkdir(parents=True, exist_ok=True)
    config = report_dir / "schemathesis.toml"
    config.write_text(
        # 507 is no crash but the documented refusal of an upload larger than the free disk space
        # (status_code_conformance still holds every other operation to the statuses it documents).
        '[checks.not_a_server_error]\nexpected-statuses = ["2xx", "3xx", "4xx", "507"]\n'
        # Longer scenarios than schemathesis' 6 steps, so that chains like project -> run -> cancel are walked.
        f"[phases.stateful]\nmax-steps = {STATEFUL_MAX_STEPS}\n"
    )
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{base}/openapi.json",
        "--phases",
        PHASES,
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--header",
        f"Authorization: Token {token}",
        "--workers",
        "2",
        "--continue-on-failure",  # a failure does not end its scenario: the steps after it are tested too
        "--seed",
        "1",
        "--generation-deterministic",
        "--no-color",
        "--report",
        "json,junit",
        "--report-dir",
        str(report_dir),
        "--output-truncate",
        "true",
    ]
    print("$", " ".join(command).replace(token, "<token>"), flush=True)
    # In the report folder: schemathesis keeps the failures it found there and tries them first next time.
    return subprocess.run(command, cwd=report_dir, check=False).returncode


# Failures of the checks that judge the platform's leniency with input, not its answers.
REPORTED_ONLY = {"RejectedPositiveData", "AcceptedNegativeData"}


def report_of(report_dir: Path) -> dict[str, Any]:
    return json.loads(next(report_dir.glob("*.json")).read_text())


def held_to_zero(report: dict[str, Any]) -> int:
    """Failures (and errors) of every check but REPORTED_ONLY's."""
    failures = sum(failure["count"] for failure in report["failures"] if failure["type"] not in REPORTED_ONLY)
    return failures + len(report["errors"])


def figures(role: str, report: dict[str, Any]) -> str:
    """Operations, test cases and failures per check, from the run's JSON report."""
    operations, cases = report["operations"], report["test_cases"]
    lines = [
        f"{role}: {operations['tested']}/{operations['total']} operations tested, {cases['generated']} test cases, "
        f"{cases['unique_failures']} unique failures, {len(report['errors'])} errors, "
        f"phases: {', '.join(name + ' ' + phase['status'] for name, phase in report['phases'].items())}"
    ]
    lines += [
        f"  {failure['code']} {failure['title']}: {failure['count']} ({', '.join(failure['operations'])})"
        for failure in report["failures"]
    ]
    return "\n".join(lines)


def stop_model_servers(base: str, staff_token: str) -> None:
    """Model servers run in sessions of their own, beyond gunicorn and qcluster: stop them through the API."""
    staff = Api(base, staff_token)
    for status in ("starting", "running", "unhealthy"):
        for deployment in staff.call("GET", f"/deployments?status={status}&limit=500"):
            staff.call("DELETE", f"/deployments/{deployment['deployment_id']}?force=true", refused_ok=True)


def stop_group(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=30, help="test cases per operation and phase")
    parser.add_argument("--database", help="a PostgreSQL URL (default: SQLite in the throwaway DATA_DIR)")
    parser.add_argument("--users", default="member,staff", help="whom to run as: member, staff or both")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway folder (logs, reports)")
    options = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="llmp-schemathesis-"))
    print(f"scratch folder: {scratch}", flush=True)
    environment = platform_environment(scratch, options.database)
    manage(environment, "migrate", "--noinput")
    manage(environment, "collectstatic", "--noinput")
    tokens = {
        "staff": token_of(environment, USERS["staff"], staff=True),
        "member": token_of(environment, USERS["member"], staff=False),
    }
    manage(environment, "install_demo", "--owner", USERS["staff"])

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = ("-m", "gunicorn", "llmplatform.wsgi", "--bind", f"127.0.0.1:{port}")
    server = start(environment, scratch / "gunicorn.log", *gunicorn)
    worker = start(environment, scratch / "qcluster.log", "manage.py", "qcluster")
    outcomes: dict[str, int] = {}
    try:
        wait_until_up(base, server)
        wait_until_healthy(base)
        seed(base, tokens["staff"], tokens["member"])
        for role in options.users.split(","):
            print(f"\n==> schemathesis as the {role} ({USERS[role]})", flush=True)
            outcomes[role] = run_schemathesis(base, tokens[role], scratch / f"report-{role}", options.max_examples)
    finally:
        stop_model_servers(base, tokens["staff"])
        stop_group(server)
        stop_group(worker)
    print("\n==> figures")
    reports = {role: report_of(scratch / f"report-{role}") for role in outcomes}
    for role, report in reports.items():
        print(figures(role, report))
        print(f"  schemathesis exit status {outcomes[role]}; failures of the checks held to 0: {held_to_zero(report)}")
    tracebacks = (scratch / "gunicorn.log").read_text(errors="replace").count("Traceback")
    print(f"tracebacks in gunicorn.log: {tracebacks}")
    if not options.keep:
        shutil.rmtree(scratch)
    return 0 if reports and not tracebacks and not any(held_to_zero(report) for report in reports.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
