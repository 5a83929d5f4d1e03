//! Fuzzes everything an attacker controls at `POST /webhooks/stripe`: the `Stripe-Signature`
//! header and the body, through signature verification and lenient event parsing.
#![no_main]

use kaffeekasse::webhook::event::{Event, Incoming};
use kaffeekasse::webhook::signature::{self, SignatureHeader};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

fuzz_target!(|data: &[u8]| {
    // The first line is the header, the rest the body.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    let header = String::from_utf8_lossy(header);
    let _ = SignatureHeader::parse(&header);
    let secrets = [SecretString::from("whsec_fuzz".to_owned())];
    let _ = signature::verify(Some(&header), body, &secrets, 1_700_000_000, 300);
    if let Ok(event) = Event::parse(body) {
        let _ = event.payload();
    }
    // What the webhook itself reads: payer details dropped from the text, then the envelope.
    if let Ok(incoming) = Incoming::parse(body) {
        let _ = incoming.view().payload();
    }
    // A correctly signed body must always verify, whatever it contains.
    let signed = signature::sign(body, &[&secrets[0]], 1_700_000_000);
    assert!(signature::verify(Some(&signed), body, &secrets, 1_700_000_000, 300).is_ok());
});
