from django_tasks.base import Task

from servicebay.core.schedule import PERIODIC, PeriodicJob, due_jobs


def test_every_periodic_job_names_a_real_task():
    for job in PERIODIC:
        assert isinstance(job.load(), Task), job.task_path


def test_a_job_is_due_once_its_interval_has_passed():
    job = PeriodicJob("x:y", 60)
    PERIODIC.append(job)
    try:
        assert job in due_jobs({}, now=10.0)
        assert job not in due_jobs({"x:y": 10.0}, now=69.0)
        assert job in due_jobs({"x:y": 10.0}, now=70.0)
    finally:
        PERIODIC.remove(job)
