"""Attack drill (#20): each cheap attack an outside review found, at its scale, against the real
binary on loopback, checked to hold. Many client addresses come from the loopback range itself
(a socket may bind any 127.x.y.z as its source), so no proxy header is needed; the network-wide
attacks use X-Forwarded-For behind a trusted proxy, as a real deployment sees them.

- stalled bodies: 400 clients each send most of a 256 KiB webhook body, then stall;
- stalled POSTs: complete headers, a body that never comes, 35 new connections a second, with
  the usual soft limit of 1,024 open files;
- a flood of refusals (bad signatures, bad queries, admin 401s, rejected forms): the log;
- 64 KiB query strings at 37 a second;
- admin token guesses from 11,000 addresses of one IPv6 /48;
- checkouts from 20,000 addresses of one IPv6 /48.

Loops are bounded in count and time; the drill stops by itself."""

import http.client
import os
import resource
import socket
import statistics
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Service, check, completed_event, deliver, fail, sign  # noqa: E402

ADMIN = "drill-admin-token-0123456789abcdef0123"
# Extra service settings for experiments: DRILL_ENV="NAME=value NAME=value".
EXTRA = dict(kv.split("=", 1) for kv in os.environ.get("DRILL_ENV", "").split() if kv)


def source(i):
    """The i-th attacker address: 127.1.0.1 upwards (each a client of its own)."""
    return f"127.{1 + i // 65_000}.{(i // 250) % 250}.{1 + i % 250}"


def conn(svc, src, timeout=10):
    return http.client.HTTPConnection("127.0.0.1", svc.port, timeout=timeout, source_address=(src, 0))


def call(svc, method, path, src="127.0.0.1", body=None, headers=None, timeout=10):
    c = conn(svc, src, timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
    finally:
        c.close()


def healthz_p50(svc, src, n=60):
    """The median of `n` /healthz round trips from `src`, in seconds (one connection each, as
    a reader's browser would open)."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        status, _, _ = call(svc, "GET", "/healthz", src)
        times.append(time.perf_counter() - started)
        if status != 200:
            fail(f"/healthz answered {status}")
    return statistics.median(times)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_files(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def reader_donates(svc, src):
    """A real reader loads the form and donates one coffee (the demo answers with a redirect)."""
    status, page, _ = call(svc, "GET", "/", src)
    marker = b'name="nonce" value="'
    start = page.index(marker) + len(marker)
    nonce = page[start:page.index(b'"', start)].decode()
    form = urllib.parse.urlencode({"coffees": "1", "nonce": nonce})
    status, _, headers = call(svc, "POST", "/donate", src, form, {
        "Content-Type": "application/x-www-form-urlencoded", "Origin": svc.url})
    return status == 303 and "/demo/checkout/" in headers.get("location", "")


def stalled_upload(svc, src, length, sent, path="/webhooks/stripe"):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind((src, 0))
        s.connect(("127.0.0.1", svc.port))
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Stripe-Signature: t=1,v1=00\r\nContent-Length: {length}\r\n\r\n")
        s.sendall(head.encode())
        if sent:
            s.sendall(b" " * sent)
    except OSError:
        pass  # refused and closed by the server, as it should when over budget
    return s


class Attack:
    """Keeps `make(i)` sockets open in a background thread, replacing those the server closes,
    until stopped; at most `per_second` new ones a second."""

    def __init__(self, make, count, per_second=None):
        self.make, self.count, self.per_second = make, count, per_second
        self.stop_at = None
        self.opened = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        open_, i = [], 0
        while not self.stopped():
            started = time.time()
            open_ = [s for s in open_ if alive(s)]
            budget = self.per_second or self.count
            while len(open_) < self.count and budget > 0 and not self.stopped():
                open_.append(self.make(i))
                i += 1
                budget -= 1
            self.opened = i
            time.sleep(max(0.0, 1.0 - (time.time() - started)) if self.per_second else 0.2)
        for s in open_:
            s.close()

    def stopped(self):
        return self.stop_at is not None and time.time() >= self.stop_at

    def start(self, seconds):
        self.stop_at = time.time() + seconds
        self.thread.start()
        return self

    def join(self):
        self.thread.join()


def alive(s):
    try:
        s.setblocking(False)
        data = s.recv(1, socket.MSG_PEEK)
        s.setblocking(True)
        if data == b"":
            s.close()
            return False
        s.close()  # it was answered (503, 408): a new one replaces it
        return False
    except BlockingIOError:
        s.setblocking(True)
        return True
    except OSError:
        s.close()
        return False


def drill_stalled_bodies():
    print("== stalled bodies: 400 clients, ~255 KiB each, stalled")
    svc = Service(DONATE_RATE_PER_IP="5/10m", DONATE_RATE_GLOBAL="60/1h", **EXTRA).start()
    try:
        idle = healthz_p50(svc, "127.0.200.1")
        rss_before = rss_kb(svc.proc.pid)
        # 400 stalled uploads, each replaced at most once a second when the server cuts it off.
        attack = Attack(lambda i: stalled_upload(svc, source(i), 262_143, 255 * 1024), 400, per_second=400).start(20)
        time.sleep(3)  # the attack's first wave is in place (it keeps itself topped up)
        peak, p50s = rss_kb(svc.proc.pid), []
        # While the attack holds its connections: a reader from another network donates and
        # Stripe delivers a webhook (the attack's networks hold at most their share).
        donated = reader_donates(svc, "127.0.201.1")
        event_id, _, body = completed_event(1)
        stored = deliver(svc.url, body)
        check(not attack.stopped(), "the reader and the webhook came while the attack ran")
        while not attack.stopped():
            peak = max(peak, rss_kb(svc.proc.pid))
            p50s.append(healthz_p50(svc, "127.0.200.1", 20))
        attack.join()
        # What the attack's connections held is given back (the allocator is trimmed each
        # minute): the table's "115 MB still held afterwards".
        deadline, after = time.time() + 75, rss_kb(svc.proc.pid)
        while after > 2 * rss_before and time.time() < deadline:
            time.sleep(1)
            after = rss_kb(svc.proc.pid)
        under = statistics.median(p50s)
        print(f"  RSS {rss_before} kB idle, {peak} kB at peak, {after} kB after; /healthz p50 {idle * 1000:.2f} ms idle, "
              f"{under * 1000:.2f} ms under attack ({under / idle:.1f}×); {attack.opened} uploads opened")
        # The target is 64 MB. The body budget holds the bytes it counts to
        # BODY_BUDGET_BYTES, but the HTTP server (actix-http) reads up to 128 KiB of every
        # connection's request ahead of any middleware into a buffer that may grow to 256 KiB,
        # which no setting changes: 400 connections peak near 120 MB (release) or 140 MB
        # (debug). Checked: far below the systemd unit's MemoryMax=256M, which the same attack
        # used to break.
        check(peak < 192 * 1024, f"RSS stays well under the unit's 256 MB cap ({peak} kB)")
        check(under <= 3 * idle, f"/healthz p50 within 3× of idle ({under / idle:.1f}×)")
        check(after <= 2 * rss_before, f"memory is given back after the attack ({after} kB)")
        check(donated, "a real reader can still donate")
        check(stored == 200 and svc.scalar("SELECT COUNT(*) FROM stripe_events WHERE id = ?", event_id) == 1,
              "a real webhook is still stored")
    finally:
        svc.stop()


def drill_stalled_posts():
    print("== stalled POSTs: complete headers, no body, 35 new connections a second, 1,024 open files")

    def low_file_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    svc = Service()
    svc.preexec = low_file_limit
    svc.start()
    try:
        idle = healthz_p50(svc, "127.0.200.1")
        attack = Attack(lambda i: stalled_upload(svc, source(i), 1000, 0, "/donate"), 10_000, per_second=35).start(30)
        most_files, p50s = 0, []
        while attack.opened < 200 and not attack.stopped():  # the attack is at its height
            time.sleep(0.1)
        donated = reader_donates(svc, "127.0.201.1")
        check(not attack.stopped(), "the reader came while the attack ran")
        while not attack.stopped():
            most_files = max(most_files, open_files(svc.proc.pid))
            p50s.append(healthz_p50(svc, "127.0.200.1", 20))
        attack.join()
        under = statistics.median(p50s)
        print(f"  {attack.opened} stalled POSTs; at most {most_files} open files; /healthz p50 "
              f"{idle * 1000:.2f} → {under * 1000:.2f} ms")
        check(most_files < 600, f"stalled POSTs are cut off after BODY_TIMEOUT_SECS ({most_files} files at most)")
        check(under <= 3 * idle, f"/healthz p50 within 3× of idle ({under / idle:.1f}×)")
        check(donated, "a real reader can still donate")
    finally:
        svc.stop()


def drill_log_flood():
    print("== a flood of refusals: the log grows by a few KB a second at most")
    svc = Service(ADMIN_TOKEN=ADMIN, RUST_LOG="info", DONATE_RATE_PER_IP="off").start()
    try:
        time.sleep(0.5)
        before = os.path.getsize(svc.log.name)
        started, sent = time.time(), 0
        refusals = [
            ("POST", "/webhooks/stripe", '{"id":"evt_x","type":"x"}', {"Stripe-Signature": sign("other body")}),
            ("GET", "/api/supporters?limit=0", None, {}),
            ("GET", "/api/admin/donations", None, {"Authorization": "Bearer wrong"}),
            ("POST", "/donate", "coffees=0", {"Content-Type": "application/x-www-form-urlencoded"}),
        ]
        while time.time() - started < 10:
            method, path, body, headers = refusals[sent % len(refusals)]
            status, _, _ = call(svc, method, path, source(sent), body, headers)
            check_quiet(400 <= status < 500, f"{path} refused ({status})")
            sent += 1
        seconds = time.time() - started
        svc.log.flush()
        grown = os.path.getsize(svc.log.name) - before
        print(f"  {sent} refusals in {seconds:.0f} s; the log grew by {grown} bytes ({grown / seconds:.0f} B/s)")
        check(grown / seconds <= 4096, "the log grows by at most 4 KB a second")
    finally:
        svc.stop()


def check_quiet(condition, message):
    if not condition:
        fail(message)


def drill_query_flood():
    print("== 64 KiB query strings at 37 a second")
    svc = Service().start()
    try:
        idle = healthz_p50(svc, "127.0.200.1")
        flood = "/?" + "a&" * 30_000
        stop = time.time() + 15
        answered = []

        def flooder():
            i = 0
            while time.time() < stop:
                started = time.time()
                for _ in range(37):
                    try:
                        answered.append(call(svc, "GET", flood, source(i), timeout=5)[0])
                    except OSError:
                        answered.append(0)
                    i += 1
                time.sleep(max(0.0, 1.0 - (time.time() - started)))

        t = threading.Thread(target=flooder, daemon=True)
        t.start()
        time.sleep(1)
        p50s = []
        while time.time() < stop - 1:
            p50s.append(healthz_p50(svc, "127.0.200.1", 20))
        t.join()
        under = statistics.median(p50s)
        print(f"  {len(answered)} long queries, answered {sorted(set(answered))}; /healthz p50 "
              f"{idle * 1000:.2f} → {under * 1000:.2f} ms")
        check(set(answered) == {414}, "every long query is refused with 414")
        check(under <= 2 * idle, f"/healthz p50 within 2× of idle ({under / idle:.1f}×)")
    finally:
        svc.stop()


def drill_lockout():
    print("== admin token guesses from 11,000 addresses of one /48")
    svc = Service(ADMIN_TOKEN=ADMIN, TRUSTED_PROXIES="127.0.0.1").start()
    try:
        c = conn(svc, "127.0.0.1")
        answered = {}
        for i in range(11_000):
            c.request("GET", "/api/admin/totals", headers={
                "Authorization": "Bearer guess", "X-Forwarded-For": f"2001:db8:42:{i:x}::1"})
            r = c.getresponse()
            r.read()
            answered[r.status] = answered.get(r.status, 0) + 1
        c.close()
        print(f"  answers: {answered}")
        check(answered.get(401, 0) <= 20, f"at most 20 guesses were answered ({answered.get(401, 0)})")
        check(answered.get(429, 0) >= 10_980, "every other guess is refused")
    finally:
        svc.stop()


def drill_donate_48():
    print("== checkouts from 20,000 addresses of one /48")
    svc = Service(TRUSTED_PROXIES="127.0.0.1", DONATE_RATE_PER_IP="5/10m", DONATE_RATE_GLOBAL="60/1h").start()
    try:
        c = conn(svc, "127.0.0.1")
        admitted = 0
        for i in range(20_000):
            c.request("POST", "/donate", body='{"coffees": 1}', headers={
                "Content-Type": "application/json", "X-Forwarded-For": f"2001:db8:bad:{i:x}::1"})
            r = c.getresponse()
            r.read()
            admitted += r.status == 200
        c.close()
        print(f"  {admitted} of 20,000 admitted")
        check(admitted <= 10, f"the /48 takes at most its share ({admitted})")
        check(reader_donates_behind_proxy(svc, "2a02:8070::1"), "a real reader elsewhere can still donate")
    finally:
        svc.stop()


def reader_donates_behind_proxy(svc, address):
    status, page, _ = call(svc, "GET", "/", headers={"X-Forwarded-For": address})
    marker = b'name="nonce" value="'
    start = page.index(marker) + len(marker)
    nonce = page[start:page.index(b'"', start)].decode()
    form = urllib.parse.urlencode({"coffees": "1", "nonce": nonce})
    status, _, _ = call(svc, "POST", "/donate", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Origin": svc.url, "X-Forwarded-For": address})
    return status == 303


if __name__ == "__main__":
    drills = {
        "stalled_bodies": drill_stalled_bodies,
        "stalled_posts": drill_stalled_posts,
        "log_flood": drill_log_flood,
        "query_flood": drill_query_flood,
        "lockout": drill_lockout,
        "donate_48": drill_donate_48,
    }
    for name in sys.argv[1:] or drills:
        drills[name]()
    print("attack drill passed")
