"""P5: upload a 1 GiB JSONL dataset and validate it, against `cp` of the same file.

Side by side in one run, on one disk (everything lives under one work folder):
- `cp --reflink=never` of the file: the baseline, in MB/s;
- the resumable upload (chunks of the size the server allows, finish with SHA-256 check);
- the multipart upload of the same file (PUT /v1/datasets/{id}/files, limit raised for it);
- validation of each by a django-q2 worker (`manage.py qcluster`), line by line;
- peak RSS (VmHWM from /proc/<pid>/status) of the gunicorn worker and of the qcluster
  processes, including the processes a worker forks to validate pieces of the file
  (sampled while validation runs, since they are gone by its end): a server that held
  the file in memory would show it here;
- two floors no server can go under, timed on the same file: its SHA-256 (which every
  upload must compute), and parsing every line with orjson, nothing checked, in as many
  processes as validation uses.

Prints the ratios (upload MB/s / cp MB/s; upload + validation MB/s / cp MB/s), and how
long after its last byte each upload was `ready` (the resumable one is checked while its
chunks arrive, so less is left by then), and how long the resumable upload's `finish`
took (its SHA-256 is taken as the chunks arrive, so finishing does not read the file).
Goal: upload plus validation >= 0.5x cp, RSS < 200 MB.

    python bench/p5_dataset_upload.py [--size-mib 1024] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import itertools
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from machine import REPO, machine

MIB = 1024 * 1024


def write_corpus(path: Path, size: int) -> None:
    """SFT records (mixed Chinese/English, varied lengths) until `size` bytes."""
    lines = []
    for number in range(2000):
        turns = [
            {"role": "user", "content": f"问题 {number}: " + "请解释梯度下降。" * (1 + number % 7)},
            {
                "role": "assistant",
                "content": f"Answer {number}: " + "Gradient descent follows the slope. " * (2 + number % 11),
            },
        ]
        record = {"conversation_id": f"bench-{number}", "messages": turns, "metadata": {"source": "p5"}}
        lines.append(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    block = b"".join(lines)
    with open(path, "wb") as out:
        written = 0
        while written < size:
            piece = block if written + len(block) <= size else b"".join(lines[: max(1, (size - written) // 400)])
            out.write(piece)
            written += len(piece)
            if piece is not block:
                break


def parse_lines(path: Path, start: int, end: int) -> int:
    """orjson.loads every line between two line starts; how many there were."""
    count = 0
    with open(path, "rb") as data:
        data.seek(start)
        done = 0
        for line in data:
            if done >= end - start:
                break
            done += len(line)
            orjson.loads(line)
            count += 1
    return count


def parse_seconds(path: Path, processes: int) -> float:
    """Every line parsed, the file cut at line starts into one range per process."""
    size = path.stat().st_size
    bounds = [0]
    with open(path, "rb") as data:
        for number in range(1, processes):
            data.seek(size * number // processes)
            data.readline()
            bounds.append(data.tell())
    bounds.append(size)
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.starmap(parse_lines, [(path, start, end) for start, end in itertools.pairwise(bounds)])
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    result, stack = [], [pid]
    while stack:
        current = stack.pop()
        result.append(current)
        stack.extend(children(current))
    return result


def reset_peak_rss(pid: int) -> None:
    """Start a new high-water mark (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Api:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Token {token}"}

    def call(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        if isinstance(body, dict):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=body, headers={**self.headers, **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, (json.loads(data) if data else {})

    def wait_validated(self, dataset_id: str, upload_id: str, *, while_waiting) -> dict:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            while_waiting()
            _, report = self.call("GET", f"/v1/datasets/{dataset_id}/files/{upload_id}")
            if report.get("status") in {"ready", "invalid"}:
                return report
            time.sleep(0.2)
        raise TimeoutError("validation did not finish")


def resumable_upload(api: Api, dataset_id: str, source: Path, sha256: str) -> str:
    size = source.stat().st_size
    status, session = api.call(
        "POST", f"/v1/datasets/{dataset_id}/uploads", {"filename": source.name, "total_bytes": size, "sha256": sha256}
    )
    assert status == 201, session
    upload_id = session["upload_id"]
    with open(source, "rb") as data:
        offset = 0
        while chunk := data.read(session["max_chunk_bytes"]):
            status, body = api.call(
                "PATCH",
                f"/v1/uploads/{upload_id}?offset={offset}",
                chunk,
                {"Content-Type": "application/octet-stream"},
            )
            assert status == 200, body
            offset += len(chunk)
    started = time.perf_counter()
    status, body = api.call("POST", f"/v1/uploads/{upload_id}/finish")
    print(f"resumable: finish answered in {time.perf_counter() - started:.2f} s", flush=True)
    assert status == 200, body
    return upload_id


def multipart_upload(api: Api, dataset_id: str, source: Path) -> str:
    """Stream the file as one multipart body (http.client sends an iterable chunk by chunk)."""
    boundary = "p5-bench-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{source.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with open(source, "rb") as data:
            while chunk := data.read(4 * MIB):
                yield chunk
        yield tail

    length = len(head) + source.stat().st_size + len(tail)
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=600)
    connection.request(
        "PUT",
        f"/v1/datasets/{dataset_id}/files",
        body=body(),
        headers={
            **api.headers,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(length),
        },
    )
    response = connection.getresponse()
    payload = json.loads(response.read())
    assert response.status == 201, payload
    return payload["upload_id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--workdir", type=Path, default=REPO / "var", help="a folder on the disk to measure")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="p5-", dir=args.workdir))
    processes: list[subprocess.Popen] = []
    try:
        run(work, args.size_mib * MIB, processes)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, size: int, processes: list[subprocess.Popen]) -> None:
    source = work / "corpus.jsonl"
    print(f"writing a {size / MIB:.0f} MiB JSONL corpus under {work}", flush=True)
    write_corpus(source, size)
    size = source.stat().st_size
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(source, "rb") as data:
        while chunk := data.read(8 * MIB):
            digest.update(chunk)
    sha256 = digest.hexdigest()
    sha256_s = time.perf_counter() - started
    validation_processes = int(os.environ.get("VALIDATION_PROCESSES") or len(os.sched_getaffinity(0)))
    parse_s = parse_seconds(source, validation_processes)

    os.sync()  # the corpus was just written: its writeback is not cp's to pay for
    started = time.perf_counter()
    subprocess.run(["cp", "--reflink=never", str(source), str(work / "copy.jsonl")], check=True)
    os.sync()
    cp_s = time.perf_counter() - started
    (work / "copy.jsonl").unlink()

    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work}/db.sqlite3",
        "DATA_DIR": str(work / "data"),
        "HOST_TRAINING_DIR": str(work / "training"),
        "SECRET_KEY": "p5-bench-only",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "Q_WORKERS": "1",
        "MAX_SMALL_FILE_BYTES": str(size + MIB),  # lets the multipart path take the same file
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    token_output = subprocess.run(
        [*manage, "create_api_token", "bench"], env=env, check=True, capture_output=True, text=True
    ).stdout
    token = token_output.split("token: ")[1].split()[0]
    # The hourly purge of abandoned uploads would take the one worker for a moment; P5
    # measures the validation path alone (no supervision loop runs: no run, no deployment).
    subprocess.run(
        [*manage, "shell", "-c", "from django_q.models import Schedule; Schedule.objects.all().delete()"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "llmplatform.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "900",
        ],
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    qcluster = subprocess.Popen(
        [*manage, "qcluster"],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes += [gunicorn, qcluster]
    api = Api(port, token)
    deadline = time.monotonic() + 60
    while True:
        try:
            if api.call("GET", "/v1/datasets")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("gunicorn did not start")
        time.sleep(0.2)
    _, created = api.call("POST", "/v1/datasets", {"name": "p5", "task_type": "sft"})
    dataset_id = created["id"]

    results = {}
    worker_peaks: list[float] = []

    def sample_worker_rss() -> None:
        worker_peaks.extend(peak_rss_mib(pid) for pid in descendants(qcluster.pid))

    for label, send in (
        ("resumable", lambda: resumable_upload(api, dataset_id, source, sha256)),
        ("multipart", lambda: multipart_upload(api, dataset_id, source)),
    ):
        for pid in descendants(gunicorn.pid) + descendants(qcluster.pid):
            reset_peak_rss(pid)
        worker_peaks.clear()
        started = time.perf_counter()
        upload_id = send()
        uploaded_s = time.perf_counter() - started
        report = api.wait_validated(dataset_id, upload_id, while_waiting=sample_worker_rss)
        total_s = time.perf_counter() - started
        assert report["status"] == "ready" and report["sha256"] == sha256, report
        web_rss = max(peak_rss_mib(pid) for pid in descendants(gunicorn.pid))
        sample_worker_rss()
        worker_rss = max(worker_peaks)
        results[label] = (uploaded_s, total_s, report["records"], web_rss, worker_rss)
        print(f"{label}: uploaded in {uploaded_s:.2f} s, validated after {total_s:.2f} s", flush=True)

    mb = size / 1e6
    cp_rate = mb / cp_s
    print(f"file: {size / MIB:.0f} MiB, {results['resumable'][2]} records")
    print(f"cp --reflink=never: {cp_s:6.2f} s  {cp_rate:7.1f} MB/s")
    print(f"floor, SHA-256 alone: {sha256_s:6.2f} s {mb / sha256_s:7.1f} MB/s ratio {cp_s / sha256_s:.2f}x")
    print(
        f"floor, orjson parse of every line alone, {validation_processes} processes: {parse_s:6.2f} s"
        f" {mb / parse_s:7.1f} MB/s ratio {cp_s / parse_s:.2f}x"
    )
    for label, (uploaded_s, total_s, _, web_rss, worker_rss) in results.items():
        print(
            f"{label:>9} upload: {uploaded_s:6.2f} s {mb / uploaded_s:6.1f} MB/s ratio {mb / uploaded_s / cp_rate:.2f}x"
            f" | +validation: {total_s:6.2f} s {mb / total_s:6.1f} MB/s ratio {mb / total_s / cp_rate:.2f}x"
            f" | ready {total_s - uploaded_s:.2f} s after its last byte"
            f" | peak RSS web {web_rss:.0f} MiB, worker {worker_rss:.0f} MiB"
        )
        verdicts = {
            "upload >= 0.5x cp": mb / uploaded_s / cp_rate >= 0.5,
            "upload + validation >= 0.5x cp": mb / total_s / cp_rate >= 0.5,
            "RSS < 200 MiB": max(web_rss, worker_rss) < 200,
        }
        said = ", ".join(f"{goal} {'ok' if met else 'NOT MET'}" for goal, met in verdicts.items())
        print(f"{label:>9} goals: {said}")


if __name__ == "__main__":
    print(f"at the start, {machine()}", flush=True)
    main()
    print(f"at the end,   {machine()}")
