"""django-q2 entry points: fetch by id, call the domain."""

from deid import services


def run_deid_job(job_id: str) -> None:
    services.run_deid_job(job_id=job_id)
