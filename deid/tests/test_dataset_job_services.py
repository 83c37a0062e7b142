"""The dataset job's service: running, failing and taking over abandoned jobs."""

from datetime import timedelta

from django.utils import timezone

from datasets import services as dataset_services
from datasets.models import Dataset
from deid import services
from deid.models import DeidJob, DeidJobStatus, DeidPolicy


def test_it_runs_a_queued_job_once(owner, source_dataset):
    job = services.start_dataset_deidentification(
        dataset=source_dataset, policy=DeidPolicy.objects.get(name="default"), seed=5, actor=owner
    )
    assert job.status == DeidJobStatus.QUEUED and job.total_bytes == sum(f.bytes for f in source_dataset.files.all())
    done = services.run_deid_job(job_id=str(job.pk))
    assert done.status == DeidJobStatus.SUCCEEDED and done.processed_bytes == done.total_bytes
    again = services.run_deid_job(job_id=str(job.pk))  # a duplicate delivery changes nothing
    assert again.status == DeidJobStatus.SUCCEEDED and Dataset.objects.filter(parent=source_dataset).count() == 1


def test_it_restarts_a_job_whose_worker_died_and_drops_the_half_made_copy(owner, source_dataset, settings):
    """A retried task finds its job `running` past the worker timeout: the first attempt
    was killed; the job starts over and the partial dataset goes."""
    policy = DeidPolicy.objects.get(name="default")
    job = services.start_dataset_deidentification(dataset=source_dataset, policy=policy, actor=owner)
    half_made = dataset_services.create_dataset(name="half", task_type="sft", created_by=owner, parent=source_dataset)
    long_ago = timezone.now() - timedelta(seconds=settings.Q_CLUSTER["timeout"] + 60)
    DeidJob.objects.filter(pk=job.pk).update(status=DeidJobStatus.RUNNING, started_at=long_ago, target=half_made)

    job = services.run_deid_job(job_id=str(job.pk))

    assert job.status == DeidJobStatus.SUCCEEDED and job.target != half_made
    assert not Dataset.objects.filter(pk=half_made.pk).exists()
    assert job.counts == {"PHONE_NUMBER": 8, "ID_CARD": 4}


def test_it_leaves_a_job_another_worker_is_running_alone(owner, source_dataset):
    policy = DeidPolicy.objects.get(name="default")
    job = services.start_dataset_deidentification(dataset=source_dataset, policy=policy, actor=owner)
    DeidJob.objects.filter(pk=job.pk).update(status=DeidJobStatus.RUNNING, started_at=timezone.now())
    assert services.run_deid_job(job_id=str(job.pk)).status == DeidJobStatus.RUNNING
    assert DeidJob.objects.get(pk=job.pk).target is None
