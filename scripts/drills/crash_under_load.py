#!/usr/bin/env python3
"""Drill 1: kill -9 under a stream of webhooks. Every acknowledged event must survive the crash,
and after Stripe's redelivery exactly one paid donation per session must exist."""

from common import Service, check, completed_event, deliver, deliver_until_killed

EVENTS = 1500
THREADS = 8
KILL_AFTER_ACKS = 400


def main():
    service = Service().start()
    events = [completed_event(n) for n in range(EVENTS)]
    acked = deliver_until_killed(service, events, THREADS, KILL_AFTER_ACKS)
    with service.db() as conn:
        paid = {row[0] for row in conn.execute("SELECT checkout_session_id FROM donations WHERE status = 'paid'")}
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
