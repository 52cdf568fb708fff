"""A local HTTP server speaking the Twilio Messages API, for tests and benchmarks.

``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form: To, From, Body | ContentSid +
ContentVariables, StatusCallback) with HTTP basic auth → 201 ``{"sid", "status": "queued", …}``;
``GET`` the same path lists what was accepted (filter ``To``). Per-recipient behaviours reproduce
what real providers do: error 21610 (recipient unsubscribed), 5xx, a read timeout after accepting
(the message *was* accepted: the crash case), a dropped connection, and malformed answers: a 201
whose body is not JSON (accepted all the same), a 200 without a ``sid`` (not accepted), a 502 HTML
page from a proxy, an answer slower than the client's patience (accepted late). ``script`` plays
one behaviour per request to a number, then the number is served normally; ``lookup_fault`` breaks
the listing. ``latency`` adds realistic delay to every request.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ACCOUNT = "ACtest00000000000000000000000000"
TOKEN = "test-auth-token"


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # several dispatchers with 16 connections each connect at once
    daemon_threads = True


class TwilioEmulator:
    def __init__(self, *, latency: float = 0.0, account: str = ACCOUNT, token: str = TOKEN) -> None:
        self.latency = latency
        self.account = account
        self.token = token
        self.accepted: list[dict] = []
        self.requests = 0
        self.behaviours: dict[str, str] = {}  # To number -> "21610" | "500" | "hang" | "drop" | "400"
        self.fail_first: dict[str, int] = {}  # To number -> how many 503s before accepting
        self.script: dict[str, list[str]] = {}  # To number -> behaviours for its next requests, in order
        self.lookup_fault = ""  # "garbage" | "list" | "500": how GET listings answer
        self.faults: Counter = Counter()  # behaviour -> how many requests it answered
        self.accepted_at: dict[str, float] = {}  # sid -> time.time() when accepted
        self.in_flight = 0  # POSTs being answered (a slow one goes on after its client gave up)
        self.hang_seconds = 3.0
        self.lock = threading.Lock()
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in separate writes

            def log_message(self, *args):
                pass

            def _json(self, status: int, body: dict | list) -> None:
                self._raw(status, json.dumps(body).encode(), "application/json")

            def _raw(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                expected = "Basic " + base64.b64encode(f"{emulator.account}:{emulator.token}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return False
                return True

            def _path_ok(self) -> bool:
                path = urlparse(self.path).path
                if path != f"/2010-04-01/Accounts/{emulator.account}/Messages.json":
                    self._json(404, {"code": 20404, "message": "Not found", "status": 404})
                    return False
                return True

            def do_GET(self):
                if urlparse(self.path).path == "/_stats":
                    with emulator.lock:
                        per_key = dict(Counter(m["idempotency_key"] for m in emulator.accepted))
                    self._json(200, {"requests": emulator.requests, "per_key": per_key})
                    return
                if emulator.latency:
                    time.sleep(emulator.latency)
                if not self._path_ok() or not self._authorised():
                    return
                if emulator.lookup_fault:
                    with emulator.lock:
                        emulator.faults[f"lookup-{emulator.lookup_fault}"] += 1
                    if emulator.lookup_fault == "garbage":
                        self._raw(200, b"<html><body>Service temporarily degraded</body></html>", "text/html")
                    elif emulator.lookup_fault == "list":
                        self._json(200, [{"unexpected": True}])
                    else:
                        self._raw(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
                    return
                query = parse_qs(urlparse(self.path).query)
                to = query.get("To", [None])[0]
                with emulator.lock:
                    items = [m for m in emulator.accepted if to is None or m["to"] == to]
                self._json(200, {"messages": items})

            def do_POST(self):
                with emulator.lock:
                    emulator.in_flight += 1
                try:
                    self._post()
                finally:
                    with emulator.lock:
                        emulator.in_flight -= 1

            def _post(self):
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with emulator.lock:
                    emulator.requests += 1
                if emulator.latency:
                    time.sleep(emulator.latency)
                if not self._path_ok() or not self._authorised():
                    return
                to = form.get("To", "")
                number = to.removeprefix("whatsapp:")
                with emulator.lock:
                    remaining = emulator.fail_first.get(number, 0)
                    if remaining:
                        emulator.fail_first[number] = remaining - 1
                if remaining:
                    self._json(503, {"code": 20503, "message": "Service unavailable", "status": 503})
                    return
                with emulator.lock:
                    scripted = emulator.script.get(number)
                    behaviour = scripted.pop(0) if scripted else emulator.behaviours.get(number, "")
                    if behaviour:
                        emulator.faults[behaviour] += 1
                if behaviour == "html502":
                    self._raw(502, b"<html><head><title>502 Bad Gateway</title></head>"
                                   b"<body><h1>Bad Gateway</h1></body></html>", "text/html")
                    return
                if behaviour == "nosid":
                    self._json(200, {"status": "queued", "message": "Accepted for processing"})
                    return
                if behaviour == "slow":
                    time.sleep(emulator.hang_seconds)  # the client has given up; then it is accepted
                if behaviour == "21610":
                    self._json(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                                     "status": 400})
                    return
                if behaviour == "400":
                    self._json(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
                    return
                if behaviour == "500":
                    self._json(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
                    return
                if behaviour == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                item = {
                    "sid": "SM" + uuid.uuid4().hex, "to": to, "from": form.get("From", ""),
                    "body": form.get("Body", ""), "content_sid": form.get("ContentSid", ""),
                    "content_variables": form.get("ContentVariables", ""),
                    "status_callback": form.get("StatusCallback", ""), "status": "queued",
                    "idempotency_key": self.headers.get("Idempotency-Key", ""),
                }
                with emulator.lock:
                    emulator.accepted.append(item)
                    emulator.accepted_at[item["sid"]] = time.time()
                if behaviour == "garbage":
                    self._raw(201, b"<?xml version='1.0'?><TwilioResponse><Message>ok", "text/html")
                    return
                if behaviour == "hang":
                    # Accepted, then too slow to answer: the client gives up not knowing.
                    time.sleep(emulator.hang_seconds)
                self._json(201, item)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/2010-04-01"

    def start(self) -> TwilioEmulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until every request has been answered (or abandoned by the server)."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)

    def bodies_to(self, number: str) -> list[str]:
        with self.lock:
            return [m["body"] for m in self.accepted if m["to"].removeprefix("whatsapp:") == number]

    def per_idempotency_key(self) -> Counter:
        with self.lock:
            return Counter(m["idempotency_key"] for m in self.accepted)


def _serve(latency: float, conn) -> None:
    emulator = TwilioEmulator(latency=latency)
    conn.send(emulator.server.server_address[1])
    emulator.server.serve_forever(poll_interval=0.05)


class EmulatorProcess:
    """The emulator in its own process, so its work does not share the caller's GIL (benchmarks)."""

    def __init__(self, *, latency: float = 0.0) -> None:
        import multiprocessing

        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=_serve, args=(latency, child), daemon=True)
        self.process.start()
        self.port = parent.recv()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/2010-04-01"

    def per_idempotency_key(self) -> Counter:
        import httpx

        return Counter(httpx.get(f"http://127.0.0.1:{self.port}/_stats", timeout=10).json()["per_key"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)
