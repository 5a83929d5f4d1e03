"""Soak drill (#20): the release binary for a set time against a fake Stripe, with a steady mix of
traffic, sampled every 10 s; it passes when nothing grows that should not and the totals equal
the money.

Traffic: donations (paid and abandoned, once and monthly), their webhooks with duplicates and in
shuffled order, monthly renewals, refunds, wall/badge/widget/feed/API reads, admin actions, manage-link edits and erasures, a backup
every few minutes, and each attack of `attacks.py` at a low rate. Samples (RSS, open files,
threads, WAL, database and log size) go to target/soak/soak.csv and a plot to soak.png.

    python3 scripts/drills/soak.py --minutes 30 [--binary target/release/kaffeekasse]

Pass: after the warm-up (5 minutes, or half of a shorter run) RSS (in a run of 10 minutes or
more; a shorter one, while SQLite's caches still fill, stays under 64 MiB) and open files grow by no
more than 5 %, the WAL stays bounded, the log grows with the legitimate traffic only, the
admin totals equal what the drill paid minus what it refunded to the cent, and no request of
the legitimate traffic was answered 5xx."""

import argparse
import csv
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacks as attack_drill  # noqa: E402
import common  # noqa: E402
from common import MockStripe, check, request, sign, stripe_service  # noqa: E402

# The lines routine refusals write: each kind at most once every 10 s (`telemetry::sample`).
REFUSAL_LINES = ["webhook rejected", "wrong admin bearer token", "wrong admin token at login",
                 "donation rejected", "checkout rate limit reached", "request timed out",
                 "cross-origin admin request refused", "donate honeypot filled"]

ADMIN = "soak-admin-token-0123456789abcdef01234"
PRICE = 500
OUT = os.path.join(common.ROOT, "target", "soak")


def event(kind, obj, n):
    return json.dumps({
        "id": f"evt_soak_{kind.replace('.', '_')}_{n}", "object": "event", "api_version": "2025-09-30.clover",
        "created": int(time.time()), "livemode": False, "type": kind, "data": {"object": obj},
    })


def session(session_id, donation_id, coffees, status, payment_status):
    return {
        "id": session_id, "object": "checkout.session", "amount_total": coffees * PRICE, "currency": "eur",
        "client_reference_id": donation_id, "livemode": False, "mode": "payment", "status": status,
        "payment_status": payment_status, "payment_intent": f"pi_{session_id}", "currency_conversion": None,
        "metadata": {"donation_id": donation_id, "kaffeekasse": "1", "coffees": str(coffees)},
        "customer_details": {"email": "reader@example.com", "name": "Soak Reader"},
    }


def monthly_events(session_id, donation_id, coffees, month, n):
    """A monthly coffee's month `month` paid (the first: with its checkout and subscription), in
    Stripe's 2025 shapes (trimmed)."""
    sub, meta = f"sub_{session_id}", {"donation_id": donation_id, "kaffeekasse": "1", "coffees": str(coffees)}
    amount, now = coffees * PRICE, int(time.time())
    invoice = f"in_{session_id}_{month}"
    events = []
    if month == 0:
        events.append(event("checkout.session.completed", {
            **session(session_id, donation_id, coffees, "complete", "paid"), "mode": "subscription",
            "payment_intent": None, "subscription": sub, "invoice": invoice, "customer": f"cus_{session_id}",
        }, n))
    start, end = now + month * 30 * 86_400, now + (month + 1) * 30 * 86_400
    events.append(event("invoice.paid", {
        "id": invoice, "object": "invoice", "status": "paid", "currency": "eur", "amount_paid": amount,
        "billing_reason": "subscription_create" if month == 0 else "subscription_cycle",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub, "metadata": meta}},
        "status_transitions": {"paid_at": now},
        "lines": {"object": "list", "data": [{"quantity": coffees, "period": {"start": start, "end": end}}]},
    }, n))
    events.append(event("invoice_payment.paid", {
        "id": f"inpay_{invoice}", "object": "invoice_payment", "invoice": invoice, "status": "paid",
        "payment": {"type": "payment_intent", "payment_intent": f"pi_{invoice}"},
    }, n))
    events.append(event("customer.subscription.updated", {
        "id": sub, "object": "subscription", "status": "active", "metadata": meta, "cancel_at_period_end": False,
        "items": {"object": "list", "data": [{"current_period_end": end}]},
    }, n))
    return events


def charge(session_id, donation_id, amount, refunded):
    return {
        "id": f"ch_{session_id}", "object": "charge", "amount": amount, "amount_refunded": refunded,
        "refunded": refunded >= amount, "currency": "eur", "payment_intent": f"pi_{session_id}",
        "metadata": {"donation_id": donation_id},
    }


class Soak:
    def __init__(self, minutes, binary):
        common.BINARY = binary
        self.mock = MockStripe()
        self.svc = stripe_service(
            self.mock, ADMIN_TOKEN=ADMIN, DONATE_RATE_PER_IP="off", DONATE_RATE_GLOBAL="off",
            MANAGE_RATE_PER_IP="off", THANKS_RATE_PER_IP="off", RUST_LOG="info", RECONCILE_INTERVAL_SECS="0",
        )
        self.seconds = minutes * 60
        # Five minutes; half of a short run (CI's two minutes), while caches still fill.
        self.warmup = min(300, self.seconds / 2)
        self.queue = []          # webhook bodies waiting, delivered shuffled and some twice
        self.paid = {}           # donation id -> (amount, refunded)
        self.sessions = []       # (session id, donation id, coffees), paid ones
        self.monthly = []        # [session id, donation id, coffees, months paid] of monthly coffees
        self.legit = 0
        self.unexpected = []     # legitimate requests answered 5xx
        self.samples = []
        self.attack_sockets = []
        self.next_guess = 0.0
        self.n = 0

    # --- the traffic ---------------------------------------------------------------------
    def legit_call(self, method, path, body=None, headers=None):
        status, text = request(method, f"{self.svc.url}{path}", body, headers or {}, timeout=30)
        self.legit += 1
        if status >= 500:
            self.unexpected.append((method, path, status))
        return status, text

    def donate(self):
        coffees = random.randint(1, 3)
        monthly = random.random() < 0.2
        body = json.dumps({"coffees": coffees, "name": f"Soak {self.n}", "public": random.random() < 0.5,
                           "message": "Danke für den Blog", "interval": "month" if monthly else "once"})
        status, text = self.legit_call("POST", "/donate", body, {"Content-Type": "application/json"})
        if status != 200:
            return
        session_id = json.loads(text)["id"]
        donation_id = self.svc.scalar("SELECT id FROM donations WHERE checkout_session_id = ?", session_id)
        self.n += 1
        if monthly:
            self.queue.extend(monthly_events(session_id, donation_id, coffees, 0, self.n))
            self.paid[f"{donation_id}:0"] = (coffees * PRICE, 0)
            self.monthly.append([session_id, donation_id, coffees, 1])
        elif random.random() < 0.8:
            self.queue.append(event("checkout.session.completed",
                                    session(session_id, donation_id, coffees, "complete", "paid"), self.n))
            self.paid[donation_id] = (coffees * PRICE, 0)
            self.sessions.append((session_id, donation_id, coffees))
        else:
            self.queue.append(event("checkout.session.expired",
                                    session(session_id, donation_id, coffees, "expired", "unpaid"), self.n))

    def renew(self):
        """A month of a monthly coffee is paid."""
        if not self.monthly:
            return
        entry = random.choice(self.monthly)
        session_id, donation_id, coffees, months = entry
        self.n += 1
        self.queue.extend(monthly_events(session_id, donation_id, coffees, months, self.n))
        self.paid[f"{donation_id}:{months}"] = (coffees * PRICE, 0)
        entry[3] = months + 1

    def refund(self):
        if not self.sessions:
            return
        session_id, donation_id, coffees = random.choice(self.sessions)
        amount, refunded = self.paid[donation_id]
        if refunded >= amount:
            return
        refunded = amount if random.random() < 0.5 else min(amount, refunded + PRICE // 2)
        self.paid[donation_id] = (amount, refunded)
        self.n += 1
        self.queue.append(event("charge.refunded", charge(session_id, donation_id, amount, refunded), self.n))

    def deliver_some(self, everything=False):
        random.shuffle(self.queue)
        take = len(self.queue) if everything else random.randint(0, len(self.queue))
        batch, self.queue = self.queue[:take], self.queue[take:]
        for body in batch:
            status, _ = self.legit_call("POST", "/webhooks/stripe", body, {
                "Content-Type": "application/json", "Stripe-Signature": sign(body)})
            if status != 200:
                self.unexpected.append(("webhook", status))
            if not everything and random.random() < 0.2:
                self.queue.append(body)  # Stripe delivers again

    def reads(self):
        for path in ["/supporters", "/badge.svg", "/widget", "/supporters.atom", "/api/supporters", "/api/stats"]:
            self.legit_call("GET", path)

    def admin(self):
        auth = {"Authorization": f"Bearer {ADMIN}"}
        self.legit_call("GET", "/api/admin/totals", headers=auth)
        if self.sessions:
            _, donation_id, _ = random.choice(self.sessions)
            for action in ("hide", "unhide"):
                self.legit_call("POST", f"/api/admin/donations/{donation_id}/{action}", "{}",
                                {**auth, "Content-Type": "application/json"})

    def manage(self):
        if not self.sessions:
            return
        session_id, _, _ = random.choice(self.sessions)
        status, page = self.legit_call("GET", f"/thanks?session_id={session_id}")
        found = re.search(r'/manage/([A-Za-z0-9._-]+)', page)
        if status != 200 or not found:
            return
        token = found.group(1)
        form_headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.svc.url}
        if random.random() < 0.2:
            self.legit_call("POST", f"/manage/{token}/erase", "confirm=on", form_headers)
        else:
            body = urllib.parse.urlencode({"name": f"Neu {self.n}", "message": "Geändert", "public": "on"})
            self.legit_call("POST", f"/manage/{token}", body, form_headers)

    def backup(self):
        target = os.path.join(self.svc.dir, f"backup-{int(time.time() * 1000)}.db")
        done = subprocess.run([common.BINARY, "backup", target], env=self.svc.env, capture_output=True)
        check_quiet(done.returncode == 0, f"backup failed: {done.stderr.decode()[-300:]}")
        os.remove(target)

    def attacks(self):
        """Each attack of attacks.py, one at a time, each from an address of its own (their
        refusals are provoked, not counted). Admin guesses come at most every 10 s, under the
        lockout's global 200 a quarter hour, which would keep the drill's own admin out too."""
        kind = random.randrange(4)
        src = f"127.9.{random.randrange(250)}.{1 + random.randrange(250)}"
        call = attack_drill.call
        if kind == 0:
            call(self.svc, "POST", "/webhooks/stripe", src, '{"id":"evt_bad"}', {"Stripe-Signature": sign("x")})
        elif kind == 1 and time.time() >= self.next_guess:
            self.next_guess = time.time() + 10
            call(self.svc, "GET", "/api/admin/donations", src, headers={"Authorization": "Bearer guess"})
        elif kind == 2:
            call(self.svc, "GET", f"/?{'a&' * 2000}", src)
        elif kind == 3:
            s = socket.socket()
            s.settimeout(2)
            try:
                s.bind((src, 0))
                s.connect(("127.0.0.1", self.svc.port))
                s.sendall(b"POST /donate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
            except OSError:
                pass
            self.attack_sockets.append(s)
            while len(self.attack_sockets) > 5:
                self.attack_sockets.pop(0).close()

    # --- sampling ------------------------------------------------------------------------
    def sample(self, started):
        pid = self.svc.proc.pid
        status = open(f"/proc/{pid}/status").read()
        field = lambda name: int(re.search(rf"^{name}:\s+(\d+)", status, re.M).group(1))  # noqa: E731
        size = lambda p: os.path.getsize(p) if os.path.exists(p) else 0  # noqa: E731
        self.samples.append({
            "seconds": round(time.time() - started), "rss_kb": field("VmRSS"),
            "open_files": len(os.listdir(f"/proc/{pid}/fd")), "threads": field("Threads"),
            "wal_bytes": size(self.svc.db_path + "-wal"), "db_bytes": size(self.svc.db_path),
            "log_bytes": size(self.svc.log.name), "requests": self.legit,
        })

    def run(self):
        self.svc.start()
        started = time.time()
        next_sample, next_backup = started, started + min(180, self.seconds / 4)
        try:
            while time.time() - started < self.seconds:
                self.donate()
                if random.random() < 0.3:
                    self.refund()
                if random.random() < 0.3:
                    self.renew()
                self.deliver_some()
                self.reads()
                if random.random() < 0.2:
                    self.admin()
                if random.random() < 0.2:
                    self.manage()
                if random.random() < 0.3:
                    self.attacks()
                if time.time() >= next_backup:
                    self.backup()
                    next_backup += min(180, self.seconds / 4)
                if time.time() >= next_sample:
                    self.sample(started)
                    next_sample += 10
                time.sleep(0.05)
            self.deliver_some(everything=True)
            self.sample(started)
            totals = json.loads(request("GET", f"{self.svc.url}/api/admin/totals",
                                        headers={"Authorization": f"Bearer {ADMIN}"})[1])
        finally:
            for s in self.attack_sockets:
                s.close()
            self.svc.stop()
        return totals

    # --- the verdict ---------------------------------------------------------------------
    def report(self, totals):
        os.makedirs(OUT, exist_ok=True)
        path = os.path.join(OUT, "soak.csv")
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(self.samples[0]))
            w.writeheader()
            w.writerows(self.samples)
        plot(self.samples, os.path.join(OUT, "soak.png"))
        after = [s for s in self.samples if s["seconds"] >= self.warmup]
        third = max(1, len(after) // 3)
        first, last = after[:third], after[-third:]
        mean = lambda rows, k: statistics.mean(r[k] for r in rows)  # noqa: E731
        rss = mean(last, "rss_kb") / mean(first, "rss_kb")
        files = mean(last, "open_files") / mean(first, "open_files")
        refusal_lines = 0
        with open(self.svc.log.name, errors="replace") as log:
            for line in log:
                refusal_lines += any(f'"{m}' in line or f" {m}" in line for m in REFUSAL_LINES)
        allowed = len(REFUSAL_LINES) * (self.seconds / 10 + 1)
        paid = sum(a for a, _ in self.paid.values())
        refunded = sum(r for _, r in self.paid.values())
        months = sum(m[3] for m in self.monthly)
        print(f"  {len(self.samples)} samples, {self.legit} legitimate requests, {len(self.paid) - months} paid "
              f"one-time coffees, {len(self.monthly)} monthly coffees with {months} paid months")
        print(f"  RSS {first[0]['rss_kb']} → {self.samples[-1]['rss_kb']} kB ({rss:.3f}× after warm-up); "
              f"open files {files:.3f}×; WAL at most {max(s['wal_bytes'] for s in self.samples)} bytes")
        log_bytes = self.samples[-1]["log_bytes"]
        print(f"  log: {log_bytes} bytes, {log_bytes / max(1, self.legit):.0f} per legitimate request; "
              f"{refusal_lines} lines of refusals (at most {allowed:.0f} allowed)")
        print(f"  money: paid {paid} − refunded {refunded} = {paid - refunded}; the admin totals say "
              f"{totals['overall']['net_cents']} (gross {totals['overall']['gross_cents']})")
        print(f"  CSV {path}, plot {os.path.join(OUT, 'soak.png')}")
        if self.seconds >= 600:
            check(rss <= 1.05, f"RSS grows by at most 5 % after the warm-up ({rss:.3f}×)")
        else:
            # SQLite's page caches (2 MiB for each of the five connections) still fill while the
            # database grows in a short run (CI's two minutes); the 30-minute run in TESTING.md
            # shows them level off. A short run checks the bound instead.
            peak = max(s["rss_kb"] for s in self.samples)
            check(peak <= 64 * 1024, f"RSS stays under 64 MiB in a short run ({peak} kB; {rss:.3f}× after warm-up)")
        check(files <= 1.05 or mean(last, "open_files") - mean(first, "open_files") <= 1,
              f"open files grow by at most 5 % ({files:.3f}×)")
        check(max(s["wal_bytes"] for s in self.samples) <= 32 << 20, "the WAL stays bounded (≤ 32 MiB)")
        check(refusal_lines <= allowed, "the attacks add at most one line per kind every 10 s to the log")
        check(totals["overall"]["net_cents"] == paid - refunded, "the totals equal paid minus refunded, to the cent")
        check(not self.unexpected, f"no legitimate request answered 5xx ({self.unexpected[:5]})")


def check_quiet(condition, message):
    if not condition:
        common.fail(message)


def plot(samples, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["seconds"] / 60 for s in samples]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for ax, keys, title in [
        (axes[0][0], [("rss_kb", 1 / 1024, "RSS (MiB)")], "memory"),
        (axes[0][1], [("open_files", 1, "open files"), ("threads", 1, "threads")], "files and threads"),
        (axes[1][0], [("wal_bytes", 1 / 2**20, "WAL (MiB)"), ("db_bytes", 1 / 2**20, "database (MiB)")], "database"),
        (axes[1][1], [("log_bytes", 1 / 1024, "log (KiB)"), ("requests", 1 / 100, "requests (×100)")], "log and traffic"),
    ]:
        for key, scale, label in keys:
            ax.plot(t, [s[key] * scale for s in samples], label=label)
        ax.set_title(title)
        ax.legend()
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("minutes")
    fig.suptitle("Kaffeekasse soak drill")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--minutes", type=float, default=30)
    args.add_argument("--binary", default=os.path.join(common.ROOT, "target", "release", "kaffeekasse"))
    a = args.parse_args()
    print(f"== soak: {a.minutes:g} minutes with {os.path.relpath(a.binary, common.ROOT)}")
    soak = Soak(a.minutes, a.binary)
    soak.report(soak.run())
    print("soak drill passed")
