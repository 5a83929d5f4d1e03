#!/usr/bin/env python3
"""Drill: kill -9 while monthly coffees renew. Subscriptions' events (the checkout, the
subscription, every month's invoice and invoice payment) arrive shuffled from eight senders; the
service is killed after some are acknowledged. Every acknowledged event must survive, and after
Stripe's redelivery every subscription is one entry with every month counted once."""

import json
import random
import time
import uuid

from common import Service, check, deliver, deliver_until_killed

SUBSCRIPTIONS = 80
MONTHS = 6
COFFEES = 2
PRICE = 500
THREADS = 8
KILL_AFTER_ACKS = 400
DAY = 86_400


def envelope(event_id, kind, created, obj):
    return json.dumps({
        "id": event_id, "object": "event", "api_version": "2025-09-30.clover", "created": created,
        "livemode": False, "type": kind, "data": {"object": obj},
    })


def history(n, now):
    """Subscription `n`'s events, in Stripe's 2025 shapes (trimmed): (event id, kind, body)."""
    session_id = f"cs_test_month_{n:04d}"
    donation_id = str(uuid.uuid5(uuid.NAMESPACE_URL, session_id))
    sub_id, customer = f"sub_drill_{n:04d}", f"cus_drill_{n:04d}"
    meta = {"donation_id": donation_id, "kaffeekasse": "1", "coffees": str(COFFEES)}
    amount = COFFEES * PRICE
    start = now - MONTHS * 30 * DAY
    events = []

    def add(name, kind, obj, at):
        event_id = f"evt_m{n:04d}_{name}"
        events.append((event_id, kind, envelope(event_id, kind, at, obj)))

    add("session", "checkout.session.completed", {
        "id": session_id, "object": "checkout.session", "mode": "subscription", "status": "complete",
        "payment_status": "paid", "amount_total": amount, "currency": "eur", "client_reference_id": donation_id,
        "metadata": meta, "subscription": sub_id, "invoice": f"in_drill_{n:04d}_0", "customer": customer,
        "livemode": False, "customer_details": {"email": f"reader{n}@example.org"},
    }, start)
    for m in range(MONTHS):
        begin, end = start + m * 30 * DAY, start + (m + 1) * 30 * DAY
        invoice = f"in_drill_{n:04d}_{m}"
        add(f"inv{m}", "invoice.paid", {
            "id": invoice, "object": "invoice", "status": "paid", "currency": "eur",
            "billing_reason": "subscription_create" if m == 0 else "subscription_cycle",
            "amount_paid": amount, "amount_due": amount, "customer": customer,
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub_id, "metadata": meta}},
            "status_transitions": {"paid_at": begin},
            "lines": {"object": "list", "data": [{"quantity": COFFEES, "period": {"start": begin, "end": end}}]},
        }, begin)
        add(f"pay{m}", "invoice_payment.paid", {
            "id": f"inpay_drill_{n:04d}_{m}", "object": "invoice_payment", "invoice": invoice, "status": "paid",
            "payment": {"type": "payment_intent", "payment_intent": f"pi_drill_{n:04d}_{m}"},
        }, begin)
        add(f"sub{m}", "customer.subscription.updated" if m else "customer.subscription.created", {
            "id": sub_id, "object": "subscription", "status": "active", "customer": customer, "metadata": meta,
            "cancel_at_period_end": False, "items": {"object": "list", "data": [{"current_period_end": end}]},
        }, begin)
    return donation_id, events


def main():
    service = Service().start()
    now = int(time.time())
    subscriptions = [history(n, now) for n in range(SUBSCRIPTIONS)]
    events = [e for _, evs in subscriptions for e in evs]
    shuffled = events[:]
    random.Random(21).shuffle(shuffled)
    deliver_until_killed(service, shuffled, THREADS, KILL_AFTER_ACKS)

    # Stripe redelivers everything, in another order, some twice.
    again = events + random.Random(7).sample(events, 200)
    random.Random(8).shuffle(again)
    failures = [e for e, _, body in again if deliver(service.url, body) != 200]
    check(not failures, f"redelivery of {len(again)} events is answered 200")
    with service.db() as conn:
        rows = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT subscription_id), SUM(coffees), SUM(amount_cents) "
            "FROM donations WHERE interval = 'month' AND status = 'paid'").fetchone()
        invoices = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM invoices WHERE status = 'paid'").fetchone()
        ledger = conn.execute("SELECT COUNT(*), SUM(status = 'applied') FROM stripe_events").fetchone()
        learned = conn.execute("SELECT COUNT(*) FROM invoices WHERE payment_intent_id IS NOT NULL").fetchone()[0]
        stats = conn.execute("SELECT supporters, coffees, amount_cents FROM wall_totals").fetchone()
        outcomes = conn.execute(
            "SELECT type, status, COALESCE(error, ''), COUNT(*) FROM stripe_events WHERE status != 'applied' "
            "GROUP BY 1, 2, 3").fetchall()
    total_months = SUBSCRIPTIONS * MONTHS
    check(rows[:2] == (SUBSCRIPTIONS, SUBSCRIPTIONS),
          f"exactly {SUBSCRIPTIONS} entries, one per subscription (0 lost, 0 doubled): {rows[:2]}")
    check(invoices == (total_months, total_months), f"every month is one paid invoice: {invoices}")
    check(rows[2:] == (total_months * COFFEES, total_months * COFFEES * PRICE),
          f"every month counted once: {rows[2]} coffees, {rows[3]} cents")
    check(ledger == (len(events), len(events)), f"every event is in the ledger once and applied: {ledger} {outcomes}")
    check(learned == total_months, "every month knows the payment that paid it")
    check(stats == (SUBSCRIPTIONS, total_months * COFFEES, total_months * COFFEES * PRICE),
          f"the wall's totals agree: {stats}")
    service.stop()
    print("crash with renewals: passed")


if __name__ == "__main__":
    main()
