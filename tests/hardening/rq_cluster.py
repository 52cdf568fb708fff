"""Real RQ workers for tests: a private Redis database, a database every process sees, and
``servicebay worker`` processes started with ``TASK_BACKEND=rq``.

- ``redis_database()`` leases one of Redis' numbered databases for one test (a lease key set with
  NX, so parallel test runs never share one) and deletes what the test left there.
- ``SharedDatabase`` is the test database as other processes see it: the test database itself on
  PostgreSQL; on SQLite a file copy (``VACUUM INTO``) that this process switches to as well, so the
  test's own services, reads and ``on_commit`` enqueues hit the same file as the workers.
- ``RQWorkers`` starts N named workers and stops them with a warm shutdown.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection, connections
from django.db.utils import load_backend
from django_tasks import TaskResult, TaskResultStatus, task_backends
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.worker import Worker

from tests.worker_db import Source

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
LEASE_KEY = "servicebay:test-lease"
REPO = Path(settings.BASE_DIR)
FINISHED = {TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED}


def redis_reachable() -> bool:
    try:
        return bool(redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2).ping())
    except redis.exceptions.RedisError:
        return False


def _clear_rq_keys(client: redis.Redis) -> None:
    keys = list(client.scan_iter(match="rq:*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start:start + 500])


def _usable(client: redis.Redis) -> bool:
    """Only our lease, or the leftovers of a test run that died (RQ keys, no live worker)."""
    others = [k for k in client.scan_iter(count=1000) if k != LEASE_KEY.encode()]
    if any(not k.startswith(b"rq:") for k in others):
        return False
    workers = [k for k in others if k.startswith(b"rq:worker:") and client.type(k) == b"hash"]
    if any(not client.hexists(k, "death") for k in workers):
        return False
    _clear_rq_keys(client)
    return True


@contextmanager
def redis_database() -> Iterator[str]:
    """Lease a Redis database that no other test run uses; yield its URL; clean it up after.

    Databases 0 and 1 are left alone: they are the defaults of ``REDIS_URL`` and ``CACHE_URL``.
    """
    token = uuid.uuid4().hex
    try:
        count = int(redis.Redis(host=REDIS_HOST, port=REDIS_PORT).config_get("databases")["databases"])
    except (redis.exceptions.ResponseError, KeyError):  # CONFIG refused: Redis' default
        count = 16
    for db in range(count - 1, 1, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
        if not client.set(LEASE_KEY, token, nx=True, ex=900):
            continue
        if not _usable(client):
            if client.get(LEASE_KEY) == token.encode():
                client.delete(LEASE_KEY)
            continue
        try:
            yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
        finally:
            _clear_rq_keys(client)
            if client.get(LEASE_KEY) == token.encode():
                client.delete(LEASE_KEY)
        return
    raise RuntimeError(f"No free Redis database on {REDIS_HOST}:{REDIS_PORT} (all {count} are in use).")


class SharedDatabase:
    """The test database as worker processes see it (see the module docstring).

    Use as a context manager inside a ``django_db(transaction=True)`` test: the test's writes must
    be committed for another process to see them.
    """

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.url = ""
        self._previous = None
        self._file_connection = None

    def __enter__(self) -> SharedDatabase:
        source = Source(self.tmp_path, filename="shared.sqlite3")
        self.url = source.url
        if source.sqlite_path is None:
            return self
        path = source.sqlite_path
        s = connection.settings_dict
        # From here on this process works on the file too (the in-memory test database cannot be
        # opened by another process). The original connection comes back on exit, so the test
        # framework's flush still clears the database it created.
        self._previous = connections["default"]
        backend = load_backend(s["ENGINE"])
        self._file_connection = backend.DatabaseWrapper({**s, "NAME": str(path)}, "default")
        connections["default"] = self._file_connection
        return self

    def __exit__(self, *exc_info) -> None:
        if self._file_connection is not None:
            self._file_connection.close()
            connections["default"] = self._previous


_LIBC = ctypes.CDLL(None) if sys.platform == "linux" else None  # loaded here, not in the child


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, so no worker outlives it."""
    _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RQWorkers:
    """``count`` ``servicebay worker`` processes on one Redis database and one source database."""

    def __init__(self, count: int, *, redis_url: str, database_url: str, log_dir: Path,
                 env: dict[str, str] | None = None,
                 worker_env: Sequence[dict[str, str]] = ()) -> None:
        run = uuid.uuid4().hex[:8]
        self.names = [f"sb-{run}-w{i + 1}" for i in range(count)]
        self.redis_url = redis_url
        self.log_dir = log_dir
        self.env = {
            **os.environ, "TASK_BACKEND": "rq", "REDIS_URL": redis_url, "DATABASE_URL": database_url,
            "SECRET_KEY": settings.SECRET_KEY, "SERVICEBAY_VAR_DIR": str(log_dir / "var"),
            "CONN_MAX_AGE": "0", "PYTHONUNBUFFERED": "1", **(env or {}),
        }
        self.worker_env = list(worker_env)  # per worker, as if each ran on its own machine
        self.processes: list[subprocess.Popen] = []

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, timeout: float = 60) -> RQWorkers:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(self.names):
            env = {**self.env, **(self.worker_env[i] if i < len(self.worker_env) else {})}
            with self.log_path(name).open("w") as log:
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "servicebay.cli", "worker", "--name", name],
                    cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent if _LIBC is not None else None,
                ))
        self.wait_idle(timeout)
        return self

    def wait_idle(self, timeout: float = 60) -> None:
        """Until every worker is registered and waiting for a job (or fail with their logs)."""
        client = redis.Redis.from_url(self.redis_url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p for p in self.processes if p.poll() is not None]
            assert not dead, f"a worker exited with {dead[0].returncode}:\n{self.logs()}"
            states = {w.name: w.get_state() for w in Worker.all(connection=client)}
            if all(states.get(name) == "idle" for name in self.names):
                return
            time.sleep(0.05)
        raise AssertionError(f"workers not idle after {timeout} s:\n{self.logs()}")

    def stop(self) -> None:
        """Warm shutdown (finish the current job, then exit); kill what does not stop."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log_path(name).read_text()[-4000:]}" for name in self.names
                         if self.log_path(name).exists())


def wait_finished(results: Sequence[TaskResult], workers: RQWorkers, timeout: float = 60) -> None:
    """Refresh every result until it succeeded or failed; fail with the workers' logs on timeout."""
    deadline = time.monotonic() + timeout
    pending = list(results)
    while pending and time.monotonic() < deadline:
        for result in pending:
            result.refresh()
        pending = [r for r in pending if r.status not in FINISHED]
        if pending:
            time.sleep(0.05)
    assert not pending, (f"{len(pending)} task(s) unfinished after {timeout} s: "
                         f"{[r.task.name for r in pending]}\n{workers.logs()}")


def _settled_ids(client: redis.Redis) -> set[str]:
    ids: set[str] = set()
    for registry in (FinishedJobRegistry, FailedJobRegistry):
        ids.update(registry("default", connection=client).get_job_ids())
    return ids


def wait_drained(workers: RQWorkers, timeout: float = 60) -> None:
    """Until every job on the queue has finished or failed — also jobs our code enqueued itself."""
    client = redis.Redis.from_url(workers.redis_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = {key.decode().removeprefix("rq:job:") for key in client.scan_iter(match="rq:job:*", count=1000)}
        jobs = {job for job in jobs if ":" not in job}
        if jobs <= _settled_ids(client):
            return
        time.sleep(0.05)
    raise AssertionError(f"jobs still queued or running after {timeout} s:\n{workers.logs()}")


def executed_results(redis_url: str) -> list[TaskResult]:
    """Every task the workers finished or failed on the queue, as django-tasks results — also the
    ones enqueued inside our code (``transaction.on_commit``), which the test never held."""
    backend = task_backends["default"]
    return [backend.get_result(job_id) for job_id in sorted(_settled_ids(redis.Redis.from_url(redis_url)))]
