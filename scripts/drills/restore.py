#!/usr/bin/env python3
"""Drill 6: lose the database, restore last night's backup, and get back what came after it.

A stream of signed webhooks is written while `kaffeekasse backup` runs, and goes on after it.
Then the database is deleted and `kaffeekasse restore` puts the backup back. A fake Stripe
serving every event of the drill through the Events API stands in for Stripe, and
`kaffeekasse reconcile --since` fetches what the backup missed. Every event acknowledged
before the backup must be in the backup; every later one must come back through
reconciliation; the totals must be Stripe's; a manage link handed out before the backup must
still open."""

import http.server
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse

from common import BINARY, Service, check, completed_event, deliver, fail, get

THREADS = 4
BEFORE = 300  # acknowledged events before the backup starts
AFTER = 300  # acknowledged events after it has finished
AMOUNT = 500  # each drill event is one coffee, 5 €


class FakeStripe:
    """Stripe's Events API over the drill's events: `GET /v1/events` with `types[]`,
    `created[gte]`, `limit` and `starting_after`, newest first, with `has_more`. Anything else
    is a 404 in Stripe's shape."""

    def __init__(self, events):
        # Newest first, as Stripe lists them; the id breaks ties within a second.
        self.events = sorted(events, key=lambda e: (e["created"], e["id"]), reverse=True)
        self.pages = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path != "/v1/events":
                    return self.answer(404, {"error": {"type": "invalid_request_error", "message": "no such resource"}})
                if self.headers.get("Authorization") != "Bearer sk_test_drill":
                    return self.answer(401, {"error": {"type": "invalid_request_error", "message": "bad key"}})
                query = urllib.parse.parse_qsl(url.query)
                types = {v for k, v in query if k.startswith("types[")}
                if len(types) > 20:  # as Stripe: "An array of up to 20 strings"
                    return self.answer(400, {"error": {"type": "invalid_request_error", "message": "too many types"}})
                params = dict((k, v) for k, v in query if not k.startswith("types["))
                gte = int(params.get("created[gte]", 0))
                limit = min(int(params.get("limit", 10)), 100)
                listed = [e for e in fake.events if e["created"] >= gte and (not types or e["type"] in types)]
                after = params.get("starting_after")
                if after is not None:
                    ids = [e["id"] for e in listed]
                    if after not in ids:
                        return self.answer(400, {"error": {"type": "invalid_request_error", "message": "unknown starting_after"}})
                    listed = listed[ids.index(after) + 1:]
                fake.pages += 1
                self.answer(200, {"object": "list", "url": "/v1/events", "has_more": len(listed) > limit, "data": listed[:limit]})

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Stream:
    """Signed `checkout.session.completed` events sent by a few threads until stopped."""

    def __init__(self, url):
        self.url, self.lock, self.stop = url, threading.Lock(), threading.Event()
        self.next, self.sent, self.acked = 0, {}, {}  # event id -> body; event id -> ack time
        self.threads = [threading.Thread(target=self.send) for _ in range(THREADS)]
        for t in self.threads:
            t.start()

    def send(self):
        while not self.stop.is_set():
            with self.lock:
                n, self.next = self.next, self.next + 1
            event_id, _, body = completed_event(n)
            with self.lock:
                self.sent[event_id] = body
            try:
                status = deliver(self.url, body, timeout=10)
            except OSError:
                continue  # unacknowledged: Stripe keeps it, and the fake Stripe has it
            if 200 <= status < 300:
                with self.lock:
                    self.acked[event_id] = time.monotonic()

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def wait_for(self, n, timeout=120):
        deadline = time.time() + timeout
        while self.acked_count() < n:
            if time.time() > deadline:
                fail(f"only {self.acked_count()} of {n} events were acknowledged in {timeout}s")
            time.sleep(0.05)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        if any(t.is_alive() for t in self.threads):
            fail("a sender did not finish")


def run(args, env, timeout=120):
    return subprocess.run([BINARY, *args], env=env, capture_output=True, text=True, timeout=timeout)


def manage_link(service, session_id):
    """The manage link the thanks page hands out for a paid donation, as a path."""
    status, page = get(f"{service.url}/thanks?session_id={session_id}")
    found = re.search(r'href="https?://[^"/]+(/manage/[^"]+)"', page)
    if status != 200 or not found:
        fail(f"the thanks page of {session_id} shows no manage link (status {status})")
    return found.group(1)


def stats(service):
    status, body = get(f"{service.url}/api/stats")
    return json.loads(body) if status == 200 else None


def main():
    started = int(time.time())
    service = Service().start()
    stream = Stream(service.url)
    stream.wait_for(BEFORE // 3)
    _, first_session, _ = completed_event(0)
    link = manage_link(service, first_session)
    check(get(f"{service.url}{link}")[0] == 200, "a manage link is handed out before the backup")
    stream.wait_for(BEFORE)

    backup = os.path.join(service.dir, "nightly.db")
    with stream.lock:
        acked_before = set(stream.acked)
    backup_started = time.monotonic()
    made = run(["backup", backup], service.env)
    backup_ended = time.monotonic()
    check(made.returncode == 0, f"kaffeekasse backup succeeded while webhooks were written: {made.stdout.strip()}")
    with stream.lock:
        during = sum(1 for t in stream.acked.values() if backup_started <= t <= backup_ended)
    print(f"  ({during} events were acknowledged while the backup ran)")
    stream.wait_for(len(acked_before) + during + AFTER)
    stream.finish()
    check(len(stream.sent) == len(stream.acked), f"all {len(stream.sent)} events sent were acknowledged")

    restore_env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": service.env["DATABASE_URL"]}
    refused = run(["restore", backup], restore_env)
    check(refused.returncode != 0 and "in use" in refused.stderr, "kaffeekasse restore refuses while the service runs")
    check(service.scalar("SELECT count(*) FROM stripe_events") == len(stream.sent), "and leaves the live database alone")

    service.terminate()
    service.proc.wait(timeout=60)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(service.db_path + suffix):
            os.remove(service.db_path + suffix)
    check(not os.path.exists(service.db_path), "the service is stopped and the database is gone")

    restored = run(["restore", backup], restore_env)
    check(restored.returncode == 0, f"kaffeekasse restore succeeded: {restored.stdout.strip()} {restored.stderr.strip()}")
    check(oct(os.stat(service.db_path).st_mode & 0o777) == "0o600", "the restored database is private (0600)")
    with service.db() as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM stripe_events")}
    lost = acked_before - stored
    check(not lost, f"all {len(acked_before)} events acknowledged before the backup are in it (lost: {len(lost)})")
    missing = set(stream.sent) - stored
    check(len(missing) >= AFTER, f"the {len(missing)} events after the backup are not (yet)")

    fake = FakeStripe([json.loads(body) for body in stream.sent.values()])
    stripe = Service(
        db_path=service.db_path,
        PAYMENT_PROVIDER="stripe",
        STRIPE_SECRET_KEY="sk_test_drill",
        STRIPE_API_BASE=fake.url,
    ).start()
    link_status = get(f"{stripe.url}{link}")[0]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started - 60))
    reconciled = run(["reconcile", "--since", since], stripe.env)
    check(reconciled.returncode == 0, f"kaffeekasse reconcile --since {since} succeeded: {reconciled.stdout.strip()} {reconciled.stderr.strip()}")
    check(fake.pages >= 2, f"reconciliation read the Events API page by page ({fake.pages} pages)")
    with stripe.db() as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM stripe_events")}
        paid, cents = conn.execute("SELECT count(*), coalesce(sum(amount_cents), 0) FROM donations WHERE status = 'paid'").fetchone()
        donations = conn.execute("SELECT count(*) FROM donations").fetchone()[0]
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    check(missing <= stored, f"all {len(missing)} events after the backup came back through reconciliation")
    truth = {"supporters": len(fake.events), "coffees": len(fake.events), "amount_cents": AMOUNT * len(fake.events)}
    check((paid, cents, donations) == (truth["supporters"], truth["amount_cents"], len(fake.events)),
          f"the database holds Stripe's {len(fake.events)} paid donations once each, {truth['amount_cents']} cents")
    check(integrity == "ok", "the database is intact")
    # The service caches wall totals for up to five seconds; reconcile wrote from another process.
    deadline, seen = time.time() + 30, None
    while time.time() < deadline:
        seen = stats(stripe)
        if seen and all(seen.get(k) == v for k, v in truth.items()):
            break
        time.sleep(0.2)
    check(seen and all(seen.get(k) == v for k, v in truth.items()), f"/api/stats shows Stripe's totals: {seen}")
    check(link_status == 200, "the manage link handed out before the backup still opens after the restore")
    stripe.stop()
    print("restore: passed")


if __name__ == "__main__":
    main()
