"""django-q2 runs background work in real worker processes, on the ORM broker or on Redis."""

from __future__ import annotations

from django_q.models import OrmQ, Task
from django_q.tasks import async_task, result

from llmplatform.testing import manage_py, running, subprocess_env, wait_for
from tests.probes import health_report, last_json_line


def enqueue(env: dict[str, str], func: str, *args) -> str:
    """Enqueue from another process (outside pytest, so not in sync mode); the task id."""
    return last_json_line(
        f"import json; from django_q.tasks import async_task; print(json.dumps(async_task({func!r}, *{args!r})))", env
    )


def finished_task(task_id: str) -> Task | None:
    return Task.objects.filter(id=task_id).first()


def test_it_runs_tasks_inline_under_pytest(db):
    task_id = async_task("math.floor", 2.5)
    assert result(task_id) == 2


def test_it_runs_a_task_in_a_real_worker_on_the_orm_broker(qcluster):
    task_id = enqueue(subprocess_env(), "math.floor", 2.5)
    task = wait_for(lambda: finished_task(task_id), timeout=60, what="the worker to finish the task")
    assert (task.success, task.result) == (True, 2)
    assert OrmQ.objects.count() == 0


def test_it_records_a_failed_task_once_and_does_not_retry_it(qcluster):
    task_id = enqueue(subprocess_env(), "math.sqrt", -1)
    task = wait_for(lambda: finished_task(task_id), timeout=60, what="the worker to give up on the task")
    assert task.success is False
    assert "math domain error" in task.result
    assert task.attempt_count == 1
    # Acknowledged: nothing left in the queue to hand out again.
    assert wait_for(lambda: OrmQ.objects.count() == 0, timeout=10, what="the failed task to be acknowledged")


def test_it_runs_a_task_through_redis_and_reports_the_heartbeat_from_there(transactional_db, redis_url, tmp_path):
    env = subprocess_env(REDIS_URL=redis_url)
    with running(manage_py("qcluster"), env=env, log=tmp_path / "qcluster.log"):
        task_id = enqueue(env, "math.floor", 7.9)
        task = wait_for(lambda: finished_task(task_id), timeout=60, what="the worker to finish the task")
        assert (task.success, task.result) == (True, 7)
        # Nothing went through the database queue.
        assert OrmQ.objects.count() == 0
        status, body = health_report(env)
        assert (status, body["checks"]["worker"]) == (200, {"ok": True})
    status, body = wait_for(
        lambda: (answer := health_report(env))[0] == 503 and answer, timeout=30, what="the heartbeat to expire"
    )
    assert body["checks"]["worker"]["ok"] is False
