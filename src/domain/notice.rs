//! What the blogger is told about, and when to try again: pure decisions for the notification
//! outbox.

use super::DonationStatus;

/// Where notifications go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Ntfy,
    Webhook,
    Email,
}

/// What happened to a donation, as far as the blogger cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// A new coffee: the money arrived.
    Paid,
    Refunded,
    /// A dispute was opened: the blogger may have to answer it in Stripe's Dashboard.
    Disputed,
    /// A dispute ended in the blogger's favour.
    Won,
    /// A dispute was lost: the money is gone.
    Lost,
    /// From the admin's "send a test notification" button.
    Test,
    /// A new monthly supporter: the first month is paid.
    Monthly,
    /// A monthly coffee's renewal was paid: a coffee like any other.
    Renewal,
    /// A monthly coffee's renewal could not be debited (Stripe retries).
    RenewalFailed,
    /// A monthly coffee was cancelled (at once, or at the end of the paid month).
    Cancelled,
    /// A paid monthly coffee ended without a cancellation: its payments failed until Stripe gave
    /// up, or one was disputed.
    Ended,
}

super::word_enum!(Channel { Ntfy => "ntfy", Webhook => "webhook", Email => "email" });
super::word_enum!(NoticeKind {
    Paid => "paid", Refunded => "refunded", Disputed => "disputed", Won => "won", Lost => "lost", Test => "test",
    Monthly => "monthly", Renewal => "renewal", RenewalFailed => "renewal_failed", Cancelled => "cancelled",
    Ended => "ended",
});

/// A donation's state as far as notices go: its status and the cents refunded so far.
pub type Standing = (DonationStatus, i64);

/// The notice a change calls for (`before` is `None` for a donation recorded with the event). A
/// status that does not change, and the steps before the money (pending, processing, expired,
/// failed), call for none, except a partial refund, which leaves the coffee paid; a failed refund
/// bringing a coffee back is not news.
pub fn notice_for(before: Option<Standing>, after: Standing) -> Option<NoticeKind> {
    use DonationStatus as S;
    let (after, refunded) = after;
    if let Some((before, was_refunded)) = before
        && before == after
    {
        return (after == S::Paid && refunded > was_refunded).then_some(NoticeKind::Refunded);
    }
    let before = before.map(|(s, _)| s);
    match (before, after) {
        (Some(S::Disputed | S::Lost), S::Paid) => Some(NoticeKind::Won),
        (Some(S::Refunded), S::Paid) => None,
        (_, S::Paid) => Some(NoticeKind::Paid),
        (_, S::Refunded) => Some(NoticeKind::Refunded),
        (_, S::Disputed) => Some(NoticeKind::Disputed),
        (_, S::Lost) => Some(NoticeKind::Lost),
        (_, S::Pending | S::Processing | S::Expired | S::Failed) => None,
    }
}

/// Retries start after 30 seconds and double, up to an hour apart.
pub const FIRST_RETRY_SECS: i64 = 30;
pub const MAX_RETRY_SECS: i64 = 3600;
/// After this long the sender gives up on a notification (it stays visible in the admin).
pub const GIVE_UP_AFTER_SECS: i64 = 3 * 86_400;

/// When to try again after `attempts` failed attempts, or `None` to give up.
pub fn next_attempt(attempts: u32, created_at: i64, now: i64) -> Option<i64> {
    if now - created_at >= GIVE_UP_AFTER_SECS {
        return None;
    }
    let delay = FIRST_RETRY_SECS.saturating_mul(1_i64 << attempts.saturating_sub(1).min(20));
    Some(now + delay.min(MAX_RETRY_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use DonationStatus as S;

    fn notice_for(before: Option<DonationStatus>, after: DonationStatus) -> Option<NoticeKind> {
        super::notice_for(before.map(|s| (s, 0)), (after, 0))
    }

    #[test]
    fn a_partial_refund_is_news_though_the_coffee_stays_paid() {
        assert_eq!(
            super::notice_for(Some((S::Paid, 0)), (S::Paid, 200)),
            Some(NoticeKind::Refunded)
        );
        assert_eq!(
            super::notice_for(Some((S::Paid, 200)), (S::Paid, 300)),
            Some(NoticeKind::Refunded)
        );
        assert_eq!(super::notice_for(Some((S::Paid, 300)), (S::Paid, 300)), None);
        assert_eq!(
            super::notice_for(Some((S::Paid, 300)), (S::Paid, 0)),
            None,
            "a failed refund is not news"
        );
    }

    #[test]
    fn the_blogger_hears_about_money_arriving_leaving_and_disputes() {
        assert_eq!(notice_for(None, S::Paid), Some(NoticeKind::Paid));
        assert_eq!(notice_for(Some(S::Pending), S::Paid), Some(NoticeKind::Paid));
        assert_eq!(notice_for(Some(S::Processing), S::Paid), Some(NoticeKind::Paid));
        assert_eq!(notice_for(Some(S::Paid), S::Refunded), Some(NoticeKind::Refunded));
        assert_eq!(
            notice_for(Some(S::Pending), S::Refunded),
            Some(NoticeKind::Refunded),
            "refund before completion"
        );
        assert_eq!(notice_for(Some(S::Paid), S::Disputed), Some(NoticeKind::Disputed));
        assert_eq!(notice_for(Some(S::Disputed), S::Paid), Some(NoticeKind::Won));
        assert_eq!(notice_for(Some(S::Disputed), S::Lost), Some(NoticeKind::Lost));
        for quiet in [S::Pending, S::Processing, S::Expired, S::Failed] {
            assert_eq!(notice_for(Some(S::Pending), quiet), None, "{quiet:?}");
            assert_eq!(notice_for(None, quiet), None, "{quiet:?}");
        }
        for s in DonationStatus::ALL {
            assert_eq!(notice_for(Some(*s), *s), None, "no change, no news: {s:?}");
        }
        assert_eq!(notice_for(Some(S::Refunded), S::Paid), None);
    }

    #[test]
    fn retries_back_off_to_an_hour_and_stop_after_three_days() {
        let created = 1_000;
        assert_eq!(next_attempt(1, created, created), Some(created + 30));
        assert_eq!(next_attempt(2, created, created), Some(created + 60));
        assert_eq!(next_attempt(3, created, created), Some(created + 120));
        assert_eq!(next_attempt(8, created, created), Some(created + 3600));
        assert_eq!(
            next_attempt(60, created, created),
            Some(created + 3600),
            "no overflow"
        );
        let three_days = 3 * 24 * 60 * 60;
        assert!(
            next_attempt(5, created, created + three_days - 1).is_some(),
            "still trying"
        );
        assert_eq!(
            next_attempt(5, created, created + three_days),
            None,
            "three days, not more"
        );
        let late = created + GIVE_UP_AFTER_SECS;
        assert_eq!(next_attempt(5, created, late - 1), Some(late - 1 + 480));
        assert_eq!(next_attempt(5, created, late), None);
    }
}
