#!/usr/bin/env python3
"""Drill 4: SIGTERM while requests are in flight. They finish, the process exits cleanly, and
nothing half-written remains."""

import threading
import time

from common import MockStripe, check, donate, stripe_service

IN_FLIGHT = 6


def main():
    slow = MockStripe(delay=2)
    service = stripe_service(slow).start()
    results = []
    lock = threading.Lock()

    def reader():
        status, _ = donate(service.url)
        with lock:
            results.append(status)

    threads = [threading.Thread(target=reader) for _ in range(IN_FLIGHT)]
    for t in threads:
        t.start()
    check(slow.wait_for(IN_FLIGHT), f"{IN_FLIGHT} donations are in flight")
    service.terminate()
    for t in threads:
        t.join()
    check(results == [200] * IN_FLIGHT, f"every in-flight request finished (got {results})")
    try:
        code = service.proc.wait(timeout=35)
    except Exception:
        code = None
    check(code == 0, f"the process exited cleanly after SIGTERM (code {code})")
    with service.db() as conn:
        check(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "the database is intact")
        rows = conn.execute("SELECT COUNT(*), COUNT(checkout_session_id) FROM donations").fetchone()
    check(rows == (IN_FLIGHT, IN_FLIGHT), "every finished request left one complete donation row")
    print("graceful shutdown: passed")


if __name__ == "__main__":
    main()
