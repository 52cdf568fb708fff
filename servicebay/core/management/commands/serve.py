"""``servicebay serve``: the web app, the background worker and the scheduler, together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the web app on 127.0.0.1:$PORT (default 8000) with a worker and the scheduler."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--no-worker", action="store_true", help="Serve the web app only.")

    def handle(self, *args, host: str, port: int, web_workers: int, no_worker: bool, **options):
        cli = [sys.executable, "-m", "servicebay.cli"]
        commands = {
            "web": [
                sys.executable, "-m", "gunicorn", "servicebay.wsgi:application",
                "--bind", f"{host}:{port}", "--workers", str(web_workers), "--threads", "4",
                "--access-logfile", "-", "--graceful-timeout", "5",
            ],
        }
        if not no_worker:
            commands["worker"] = [*cli, "worker"]
            commands["scheduler"] = [*cli, "scheduler"]
        processes: dict[str, subprocess.Popen] = {}
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command)  # noqa: S603 - our own interpreter and args
        self.stdout.write(self.style.SUCCESS(f"ServiceBay is running at http://{host}:{port}/"))
        self.stdout.write(f"  processes: {', '.join(processes)}  (Ctrl-C stops them all)")
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        stopping = True
                        exit_code = process.returncode or 1
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping.")
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        if exit_code:
            raise CommandError("a ServiceBay process stopped unexpectedly")
