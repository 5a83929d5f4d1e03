//! The honeypot's answer: a checkout session of the shape the provider would give, so a bot
//! cannot tell that it was caught (and try again without the field) from the answer alone.

use rand::Rng;

use crate::payments::CheckoutSession;
use crate::state::State;

fn alphanumeric(n: usize) -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// A session id and URL like the provider's own: Stripe's `cs_test_…`/`cs_live_…` on
/// `checkout.stripe.com` with its fragment, or the demo's `cs_demo_<32 hex>` on our host.
pub fn session(state: &State) -> CheckoutSession {
    if state.provider.is_demo() {
        let mut hex = [0u8; 16];
        rand::rng().fill(&mut hex);
        let id = format!("cs_demo_{}", hex::encode(hex));
        let url = format!("{}/demo/checkout/{id}", state.public_url);
        return CheckoutSession { id, url };
    }
    let mode = if state.provider.livemode() { "live" } else { "test" };
    let id = format!("cs_{mode}_{}", alphanumeric(58));
    let url = format!("https://checkout.stripe.com/c/pay/{id}#{}", alphanumeric(128));
    CheckoutSession { id, url }
}
