#!/usr/bin/env python3
"""Drill 1: kill -9 under a stream of webhooks. Every acknowledged event must survive the crash,
and after Stripe's redelivery exactly one paid donation per session must exist."""

import threading

from common import Service, check, completed_event, deliver

EVENTS = 1500
THREADS = 8
KILL_AFTER_ACKS = 400


def main():
    service = Service().start()
    events = [completed_event(n) for n in range(EVENTS)]
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
                    if len(acked) >= KILL_AFTER_ACKS and not killed.is_set():
                        killed.set()
                        service.kill9()

    threads = [threading.Thread(target=sender, args=(events[i::THREADS],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(killed.is_set(), f"the service was killed with SIGKILL after {len(acked)} acknowledged events")

    service.start()
    with service.db() as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM stripe_events")}
        paid = {row[0] for row in conn.execute("SELECT checkout_session_id FROM donations WHERE status = 'paid'")}
        check(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "the database is intact after the crash")
    lost = [e for e in acked if e not in stored]
    check(not lost, f"all {len(acked)} acknowledged events are recorded (lost: {len(lost)})")
    sessions = {e: s for e, s, _ in events}
    check(all(sessions[e] in paid for e in acked), "every acknowledged event's donation is paid")

    # Stripe redelivers everything it did not see acknowledged (and, at least once, some it did).
    failures = [e for e, _, body in events if deliver(service.url, body) != 200]
    check(not failures, f"redelivery of all {EVENTS} events is answered 200")
    with service.db() as conn:
        donations = conn.execute("SELECT COUNT(*), COUNT(DISTINCT checkout_session_id) FROM donations").fetchone()
        paid = conn.execute("SELECT COUNT(*) FROM donations WHERE status = 'paid'").fetchone()[0]
        ledger = conn.execute("SELECT COUNT(*) FROM stripe_events").fetchone()[0]
    check(donations == (EVENTS, EVENTS), f"exactly {EVENTS} donations, one per session (0 lost, 0 doubled)")
    check(paid == EVENTS and ledger == EVENTS, "every donation is paid and every event is in the ledger once")
    service.stop()
    print("crash under load: passed")


if __name__ == "__main__":
    main()
