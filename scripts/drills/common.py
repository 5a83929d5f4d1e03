"""Shared pieces of the failure drills: start the real binary, sign events as Stripe does,
talk HTTP with the standard library only, and read the SQLite file directly."""

import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The debug build by default; KAFFEEKASSE_BINARY names another (the release build).
BINARY = os.environ.get("KAFFEEKASSE_BINARY") or os.path.join(ROOT, "target", "debug", "kaffeekasse")
SECRET = "whsec_drill_secret"


def fail(message):
    print(f"DRILL FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)
    print(f"  ok: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """The kaffeekasse binary on a random port with its own database file."""

    def __init__(self, db_path=None, **env):
        self.dir = tempfile.mkdtemp(prefix="kaffeekasse-drill-")
        self.db_path = db_path or os.path.join(self.dir, "drill.db")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": f"sqlite://{self.db_path}",
            "BIND_ADDR": f"127.0.0.1:{self.port}",
            "PAYMENT_PROVIDER": "demo",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "DONATE_RATE_PER_IP": "off",
            "DONATE_RATE_GLOBAL": "off",
            "RECONCILE_INTERVAL_SECS": "0",
            "LOG_FORMAT": "json",
            "RUST_LOG": "warn",
        }
        self.env.update(env)
        self.proc = None
        # Run in the child before the binary starts (a drill's resource limits).
        self.preexec = None
        self.log = open(os.path.join(self.dir, "service.log"), "ab")

    def start(self):
        self.proc = subprocess.Popen(
            [BINARY, "serve"], env=self.env, stdout=self.log, stderr=self.log, preexec_fn=self.preexec
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail(f"the service exited at start (code {self.proc.returncode}); see {self.log.name}")
            try:
                if get(f"{self.url}/readyz", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        fail("the service did not become ready")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self):
        self.proc.send_signal(signal.SIGTERM)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def db(self):
        conn = sqlite3.connect(self.db_path, timeout=10)
        return conn

    def scalar(self, sql, *args):
        with self.db() as conn:
            return conn.execute(sql, args).fetchone()[0]


def request(method, url, body=None, headers=None, timeout=30):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def get(url, timeout=30):
    return request("GET", url, timeout=timeout)


def sign(body, secret=SECRET, timestamp=None):
    t = int(timestamp if timestamp is not None else time.time())
    mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def completed_event(n):
    """A `checkout.session.completed` for drill donation `n`, in Stripe's shape (trimmed)."""
    session_id = f"cs_test_drill_{n:06d}"
    donation_id = str(uuid.uuid5(uuid.NAMESPACE_URL, session_id))
    event = {
        "id": f"evt_drill_{n:06d}",
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": int(time.time()),
        "livemode": False,
        "type": "checkout.session.completed",
        "data": {"object": {
            "id": session_id, "object": "checkout.session", "amount_total": 500, "currency": "eur",
            "client_reference_id": donation_id, "livemode": False, "mode": "payment",
            "metadata": {"donation_id": donation_id, "kaffeekasse": "1", "coffees": "1"},
            "payment_intent": f"pi_drill_{n:06d}", "payment_status": "paid", "status": "complete",
            "customer_details": {"email": "reader@example.com", "name": None},
        }},
    }
    return event["id"], session_id, json.dumps(event)


def deliver(url, body, timeout=30):
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body)}
    return request("POST", f"{url}/webhooks/stripe", body, headers, timeout=timeout)[0]


def deliver_until_killed(service, events, threads, kill_after):
    """Delivers `events` (id, key, body) from `threads` senders and kills the service with
    SIGKILL once `kill_after` are acknowledged; then starts it again and checks that every
    acknowledged event is in the intact database. Returns the acknowledged ids."""
    acked, lock, killed = set(), threading.Lock(), threading.Event()

    def sender(share):
        for event_id, _, body in share:
            try:
                status = deliver(service.url, body, timeout=10)
            except OSError:
                continue  # the service is gone; Stripe would retry later
            if 200 <= status < 300:
                with lock:
                    acked.add(event_id)
                    if len(acked) >= kill_after and not killed.is_set():
                        killed.set()
                        service.kill9()

    senders = [threading.Thread(target=sender, args=(events[i::threads],)) for i in range(threads)]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    check(killed.is_set(), f"the service was killed with SIGKILL after {len(acked)} acknowledged events")
    service.start()
    with service.db() as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM stripe_events")}
        check(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "the database is intact after the crash")
    lost = [e for e in acked if e not in stored]
    check(not lost, f"all {len(acked)} acknowledged events are recorded (lost: {len(lost)})")
    return acked


class MockStripe:
    """A stand-in for Stripe's API on a local port: answers session creation after `delay`
    seconds with `status`. It counts the requests it has received, so drills wait on a
    condition rather than a guess."""

    def __init__(self, delay=0.0, status=200):
        import http.server
        import threading

        self.delay, self.status, self.received, self.keys = delay, status, 0, []
        self.lock = threading.Lock()
        mock = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                with mock.lock:
                    mock.received += 1
                    mock.keys.append(self.headers.get("Idempotency-Key"))
                time.sleep(mock.delay)
                session_id = f"cs_test_{uuid.uuid4().hex}"
                if mock.status == 200:
                    body = {"id": session_id, "object": "checkout.session", "url": f"https://checkout.stripe.com/c/pay/{session_id}"}
                else:
                    body = {"error": {"type": "api_error", "message": "drill failure"}}
                data = json.dumps(body).encode()
                try:
                    self.send_response(mock.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout drills)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if self.received >= n:
                    return True
            time.sleep(0.02)
        return False


def stripe_service(mock, **env):
    settings = {
        "PAYMENT_PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": "sk_test_drill",
        "STRIPE_API_BASE": mock.url,
    }
    settings.update(env)
    return Service(**settings)


def donate(url, timeout=30):
    body = json.dumps({"coffees": 1, "name": "Drill", "public": True})
    return request("POST", f"{url}/donate", body, {"Content-Type": "application/json"}, timeout=timeout)
