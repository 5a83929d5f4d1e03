#!/usr/bin/env python3
"""Drill 2: the database is locked by another process. Webhooks must answer 503 and acknowledge
nothing; once the lock is gone, redelivery records everything exactly once."""

import sqlite3
import time

from common import Service, check, completed_event, deliver, get

EVENTS = 20


def main():
    service = Service(DATABASE_BUSY_TIMEOUT_MS="300").start()
    events = [completed_event(n) for n in range(EVENTS)]

    blocker = sqlite3.connect(service.db_path, isolation_level=None, timeout=10)
    blocker.execute("BEGIN IMMEDIATE")
    started = time.time()
    statuses = [deliver(service.url, body) for _, _, body in events]
    elapsed = time.time() - started
    check(all(s == 503 for s in statuses), f"all {EVENTS} webhooks answer 503 while the database is locked")
    check(elapsed / EVENTS < 1.0, f"each refusal came within a second (busy timeout 0.3 s; {elapsed:.1f}s for {EVENTS})")
    check(get(f"{service.url}/healthz")[0] == 200, "the service stays alive meanwhile")
    blocker.execute("ROLLBACK")
    blocker.close()
    check(service.scalar("SELECT COUNT(*) FROM stripe_events") == 0, "nothing was acknowledged or stored")

    check(all(deliver(service.url, body) == 200 for _, _, body in events), "redelivery after recovery is answered 200")
    check(all(deliver(service.url, body) == 200 for _, _, body in events), "a second redelivery is answered 200 too")
    check(service.scalar("SELECT COUNT(*) FROM stripe_events") == EVENTS, f"the ledger holds {EVENTS} events, once each")
    check(service.scalar("SELECT COUNT(*) FROM donations WHERE status = 'paid'") == EVENTS, "one paid donation per event")
    check(service.scalar("SELECT COUNT(*) FROM donations") == EVENTS, "and no duplicates")
    service.stop()
    print("database trouble: passed")


if __name__ == "__main__":
    main()
