use super::*;

const ASKED: Asked = Asked {
    coffees: 2,
    amount_cents: 1000,
};

fn open() -> Checkout {
    Checkout {
        state: CheckoutState::Open,
        paid_at: None,
    }
}

fn invoice(status: DonationStatus, checkout: CheckoutState, period_end: i64) -> InvoiceSummary {
    InvoiceSummary {
        status,
        checkout,
        first: false,
        coffees: 2,
        amount_cents: 1000,
        refunded_cents: 0,
        period_end: Some(period_end),
        paid_at: (checkout == CheckoutState::Paid).then_some(period_end - MONTH_SECS),
    }
}

fn paid(period_end: i64) -> InvoiceSummary {
    invoice(DonationStatus::Paid, CheckoutState::Paid, period_end)
}

#[test]
fn every_paid_month_counts_its_coffees_and_money_on_one_entry() {
    let mut first = paid(100 * 86_400);
    first.first = true;
    let s = summarize(ASKED, open(), &[first, paid(131 * 86_400), paid(162 * 86_400)]);
    assert_eq!(s.status, DonationStatus::Paid);
    assert_eq!((s.coffees, s.amount_cents, s.refunded_cents), (6, 3000, 0));
    assert_eq!(s.paid_through, Some(162 * 86_400));
    assert!(!s.renewal_failed);
}

#[test]
fn a_refunded_renewal_leaves_the_other_months_and_a_partial_refund_is_subtracted() {
    let mut refunded = paid(131 * 86_400);
    refunded.status = DonationStatus::Refunded;
    refunded.refunded_cents = 1000;
    let mut partly = paid(162 * 86_400);
    partly.refunded_cents = 300;
    let s = summarize(ASKED, open(), &[paid(100 * 86_400), refunded, partly]);
    assert_eq!((s.coffees, s.amount_cents, s.refunded_cents), (4, 2000, 300));
    assert_eq!(s.status, DonationStatus::Paid);
}

#[test]
fn a_checkout_paid_before_its_invoice_is_known_counts_the_first_month_once() {
    let checkout = Checkout {
        state: CheckoutState::Paid,
        paid_at: Some(1_000),
    };
    let s = summarize(ASKED, checkout, &[]);
    assert_eq!(
        (s.status, s.coffees, s.amount_cents),
        (DonationStatus::Paid, 2, 1000)
    );
    assert_eq!(s.paid_through, Some(1_000 + MONTH_SECS));
    let mut first = paid(1_000 + 30 * 86_400);
    first.first = true;
    let s = summarize(ASKED, checkout, &[first]);
    assert_eq!((s.coffees, s.amount_cents), (2, 1000), "not twice");
    let s = summarize(ASKED, checkout, &[paid(5_000_000)]);
    assert_eq!(
        s.coffees, 4,
        "a renewal comes on top of the provisional first month"
    );
}

#[test]
fn a_sepa_first_debit_still_processing_is_processing_never_failed() {
    let s = summarize(
        ASKED,
        Checkout {
            state: CheckoutState::Processing,
            paid_at: None,
        },
        &[invoice(DonationStatus::Processing, CheckoutState::Processing, 50)],
    );
    assert_eq!(s.status, DonationStatus::Processing);
    assert_eq!((s.coffees, s.amount_cents), (2, 1000));
    assert!(!s.renewal_failed);
}

#[test]
fn a_failed_renewal_is_flagged_until_a_later_payment_covers_it() {
    let failed = invoice(DonationStatus::Failed, CheckoutState::Failed, 200);
    let s = summarize(ASKED, open(), &[paid(100), failed.clone()]);
    assert!(s.renewal_failed);
    assert_eq!(s.status, DonationStatus::Paid, "the paid month stays");
    let s = summarize(ASKED, open(), &[paid(100), failed, paid(300)]);
    assert!(!s.renewal_failed, "a later month was paid");
}

#[test]
fn with_everything_refunded_or_disputed_the_entry_takes_the_worst() {
    let mut refunded = paid(100);
    refunded.status = DonationStatus::Refunded;
    let mut disputed = paid(200);
    disputed.status = DonationStatus::Disputed;
    assert_eq!(
        summarize(ASKED, open(), &[refunded.clone()]).status,
        DonationStatus::Refunded
    );
    assert_eq!(
        summarize(ASKED, open(), &[refunded, disputed]).status,
        DonationStatus::Disputed
    );
}

#[test]
fn nothing_paid_takes_the_checkouts_state() {
    let at = |state| Checkout { state, paid_at: None };
    assert_eq!(summarize(ASKED, open(), &[]).status, DonationStatus::Pending);
    assert_eq!(
        summarize(ASKED, at(CheckoutState::Expired), &[]).status,
        DonationStatus::Expired
    );
    assert_eq!(
        summarize(ASKED, at(CheckoutState::Failed), &[]).status,
        DonationStatus::Failed
    );
}

#[test]
fn active_means_not_ended_and_paid_through_within_the_grace_period() {
    let grace = 14 * 86_400;
    assert!(is_active(false, Some(1_000), grace, 1_000 + grace));
    assert!(!is_active(false, Some(1_000), grace, 1_001 + grace));
    assert!(!is_active(true, Some(1_000), grace, 500), "ended");
    assert!(!is_active(false, None, grace, 0), "nothing paid yet");
}

#[test]
fn the_newest_view_wins_and_an_end_is_terminal_in_any_order() {
    let view = |at, status| SubscriptionFacts {
        view: Some(SubscriptionView {
            at,
            status,
            cancel_at_period_end: false,
            current_period_end: Some(at + 100),
        }),
        ended: None,
    };
    let ended = SubscriptionFacts {
        view: None,
        ended: Some(Ended {
            at: 50,
            reason: EndReason::Cancelled,
        }),
    };
    let reports = [
        view(10, SubscriptionStatus::Active),
        view(30, SubscriptionStatus::PastDue),
        ended,
        view(20, SubscriptionStatus::Active),
    ];
    let forward = reports
        .iter()
        .fold(SubscriptionFacts::default(), |f, r| f.merge(r));
    let backward = reports
        .iter()
        .rev()
        .fold(SubscriptionFacts::default(), |f, r| f.merge(r));
    assert_eq!(forward, backward);
    assert_eq!(
        forward.view.as_ref().map(|v| v.status),
        Some(SubscriptionStatus::PastDue)
    );
    assert!(forward.ended.is_some());
    assert_eq!(forward.next_debit(), None, "ended: no more debits");
    assert_eq!(forward.merge(&forward), forward, "idempotent");
}

#[test]
fn cancelling_at_period_end_stops_the_next_debit_but_not_the_month() {
    let facts = SubscriptionFacts {
        view: Some(SubscriptionView {
            at: 1,
            status: SubscriptionStatus::Active,
            cancel_at_period_end: true,
            current_period_end: Some(99),
        }),
        ended: None,
    };
    assert_eq!(facts.next_debit(), None);
    assert!(facts.ends_at_period_end());
}

#[test]
fn stripes_words_are_read_and_unknown_ones_tolerated() {
    assert_eq!(
        SubscriptionStatus::from_stripe(Some("past_due")),
        SubscriptionStatus::PastDue
    );
    assert_eq!(
        SubscriptionStatus::from_stripe(Some("brand_new")),
        SubscriptionStatus::Other
    );
    assert_eq!(
        EndReason::from_stripe(Some("payment_disputed")),
        EndReason::Disputed
    );
    assert!(EndReason::from_stripe(Some("cancellation_requested")).is_voluntary());
    assert!(!EndReason::PaymentFailed.is_voluntary());
    for i in Interval::ALL {
        assert_eq!(Interval::parse(i.as_str()), Some(*i));
    }
}
