//! What of Stripe's objects we keep. The ledger needs ids, amounts, statuses and metadata to
//! replay and account; it never needs who paid. Payer details are dropped from every event when
//! it is stored, and erasure drops the rest of what could name a donor.

use serde_json::Value;

/// Fields of Stripe objects that describe the payer, at any depth. Nothing we apply reads them.
const PAYER_KEYS: &[&str] = &[
    "billing_details",
    "collected_information",
    "customer_address",
    "customer_details",
    "customer_email",
    "customer_name",
    "customer_phone",
    "customer_shipping",
    "customer_tax_ids",
    // A dispute's evidence: the customer's name, e-mail, address, receipts and messages.
    "evidence",
    // Capability URLs to an invoice or receipt, which name the payer: anyone with one reads it.
    "hosted_invoice_url",
    "invoice_pdf",
    "owner",
    "payment_method_details",
    "receipt_email",
    "receipt_url",
    "shipping",
    "shipping_details",
];

/// What a Payment Link asked the payer (the name shown on the wall, the public opt-in): kept
/// for replay until the donor's data is erased.
const CUSTOM_FIELDS: &str = "custom_fields";

/// Drops payer details, as every event is stored.
pub fn redact_payer(value: &mut Value) {
    redact(value, &|key| PAYER_KEYS.contains(&key));
}

/// [`redact_payer`] on JSON text, in one pass and without parsing it into a tree: the event as
/// it is stored, compact. `None` if `text` is not JSON.
pub fn payer_dropped(text: &str) -> Option<String> {
    super::json_text::compact_without(text, &|key| PAYER_KEYS.contains(&key))
}

/// Drops payer details and the custom fields, as an erased donor's events are stored.
pub fn redact_for_erasure(value: &mut Value) {
    redact(value, &|key| key == CUSTOM_FIELDS || PAYER_KEYS.contains(&key));
}

/// Keeps only the envelope and the object's id and kind: for events we do not act on, which
/// belong to the blogger's other business and have no reason to be kept whole.
pub fn keep_envelope(value: &mut Value) {
    if let Some(object) = value.pointer_mut("/data/object") {
        let kept = ["id", "object"]
            .iter()
            .filter_map(|k| object.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        *object = Value::Object(kept);
    }
    // What else an unknown event type carries is unknown too.
    if let Some(data) = value.get_mut("data").and_then(Value::as_object_mut) {
        data.retain(|k, _| k == "object");
    }
}

/// A stored payload with `change` applied.
pub fn rewritten(payload: &str, change: fn(&mut Value)) -> String {
    match serde_json::from_str::<Value>(payload) {
        Ok(mut json) => {
            change(&mut json);
            json.to_string()
        }
        // A payload that is not JSON cannot be redacted field by field: it goes entirely.
        Err(_) => "{}".to_owned(),
    }
}

fn redact(value: &mut Value, drop: &dyn Fn(&str) -> bool) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if drop(key) {
                    *v = Value::Null;
                } else {
                    redact(v, drop);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, drop)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({"id": "evt_1", "data": {"object": {
            "id": "cs_1", "amount_total": 500, "customer_email": "a@b.c",
            "customer_details": {"email": "a@b.c", "name": "Anna"},
            "custom_fields": [{"key": "name", "text": {"value": "Anna"}}],
            "metadata": {"donation_id": "d"},
            "charges": [{"billing_details": {"name": "Anna"}, "receipt_email": "a@b.c",
                         "payment_method_details": {"card": {"last4": "4242"}}, "amount": 500}],
            "evidence": {"customer_name": "Anna"}, "evidence_details": {"due_by": 1},
            "shipping": {"name": "Anna"}, "shipping_details": {"name": "Anna"},
            "collected_information": {"shipping_details": {}}, "owner": {"name": "Anna"},
            "hosted_invoice_url": "https://invoice.stripe.com/i/secret", "invoice_pdf": "https://pay.stripe.com/secret",
            "receipt_url": "https://pay.stripe.com/receipts/secret"}}})
    }

    #[test]
    fn stored_events_keep_what_replay_and_accounting_need_and_no_payer_details() {
        let mut v = event();
        redact_payer(&mut v);
        let text = v.to_string();
        assert!(!text.contains("a@b.c") && !text.contains("4242") && !text.contains("secret"));
        assert_eq!(
            text.matches("Anna").count(),
            1,
            "only the custom field remains: {text}"
        );
        let object = &v["data"]["object"];
        assert_eq!(object["metadata"]["donation_id"], "d");
        assert_eq!(object["amount_total"], 500);
        assert_eq!(object["charges"][0]["amount"], 500);
        assert_eq!(object["evidence_details"]["due_by"], 1);
        assert_eq!(object["custom_fields"][0]["text"]["value"], "Anna");
    }

    #[test]
    fn the_text_pass_drops_what_the_tree_pass_drops() {
        let mut tree = event();
        redact_payer(&mut tree);
        let text = payer_dropped(&serde_json::to_string_pretty(&event()).unwrap()).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), tree);
        assert!(!text.contains('\n') && !text.contains(": "), "compact: {text}");
    }

    #[test]
    fn an_event_we_do_not_act_on_keeps_only_its_envelope() {
        let mut v = json!({"id": "evt_9", "type": "customer.created", "created": 1,
            "data": {"object": {"id": "cus_1", "object": "customer", "email": "a@b.c", "name": "Anna",
                                "phone": "+49", "address": {"city": "Köln"}},
                     "previous_attributes": {"email": "old@b.c"}}});
        keep_envelope(&mut v);
        assert_eq!(
            v,
            json!({"id": "evt_9", "type": "customer.created", "created": 1,
                   "data": {"object": {"id": "cus_1", "object": "customer"}}})
        );
    }

    #[test]
    fn erasure_drops_the_custom_fields_too() {
        let mut v = event();
        redact_for_erasure(&mut v);
        assert!(!v.to_string().contains("Anna"));
        assert_eq!(v["data"]["object"]["metadata"]["donation_id"], "d");
        assert_eq!(v["id"], "evt_1");
    }
}
