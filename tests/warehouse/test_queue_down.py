"""Queueing a sync when the task queue is down (Redis unreachable) answers, it doesn't crash."""

import pytest

from tests import factories


@pytest.fixture
def dead_redis(settings):
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0", "SOCKET_CONNECT_TIMEOUT": 0.5}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_rq"]


@pytest.mark.django_db
def test_api_answers_503_when_the_queue_is_unreachable(client, dead_redis):
    client.force_login(factories.make_user("admin"))
    response = client.post("/api/v1/warehouse/runs")
    assert response.status_code == 503
    assert "cannot be reached" in response.json()["detail"]


@pytest.mark.django_db
def test_page_says_so_when_the_queue_is_unreachable(client, dead_redis):
    client.force_login(factories.make_user("admin"))
    response = client.post("/warehouse/sync/", follow=True)
    assert response.status_code == 200
    assert "cannot be reached" in response.content.decode()
