use super::*;
use crate::domain::Moderation;
use std::collections::HashMap;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::from_vars(|k| map.get(k).cloned())
}

#[test]
fn no_configuration_means_demo_mode_with_defaults() {
    let s = settings(&[]).unwrap();
    assert!(s.payment.is_demo());
    assert_eq!(s.server.bind_addr, "127.0.0.1:8080");
    assert_eq!(s.rules.pricing.coffee_price_cents, 500);
    assert_eq!(s.rules.pricing.max_coffees, 10);
    assert_eq!(s.database.url, "sqlite://kaffeekasse.db");
}

#[test]
fn a_stripe_key_switches_to_stripe_and_its_prefix_decides_livemode() {
    let s = settings(&[
        ("STRIPE_SECRET_KEY", "sk_live_x"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_a"),
    ])
    .unwrap();
    assert!(!s.payment.is_demo());
    assert!(s.payment.livemode());
}

#[test]
fn stripe_without_a_webhook_secret_names_the_variable() {
    let err = settings(&[("STRIPE_SECRET_KEY", "sk_test_x")]).unwrap_err();
    assert_eq!(err.var, "STRIPE_WEBHOOK_SECRET");
}

#[test]
fn production_refuses_the_demo_provider() {
    let err = settings(&[("APP_ENV", "production")]).unwrap_err();
    assert_eq!(err.var, "PAYMENT_PROVIDER");
}

const STRIPE: [(&str, &str); 2] = [
    ("STRIPE_SECRET_KEY", "sk_live_x"),
    ("STRIPE_WEBHOOK_SECRET", "whsec_a"),
];

#[test]
fn production_needs_an_https_public_url() {
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut vars = vec![("APP_ENV", "production")];
        vars.extend_from_slice(&STRIPE);
        vars.extend_from_slice(extra);
        settings(&vars)
    };
    assert_eq!(with(&[]).unwrap_err().var, "PUBLIC_URL");
    assert_eq!(
        with(&[("PUBLIC_URL", "http://kaffee.example.de")])
            .unwrap_err()
            .var,
        "PUBLIC_URL"
    );
    let https = ("PUBLIC_URL", "https://kaffee.example.de");
    assert_eq!(with(&[https]).unwrap_err().var, "TRUSTED_PROXIES");
    assert!(with(&[https, ("TRUSTED_PROXIES", "127.0.0.1")]).is_ok());
    let direct = with(&[https, ("TRUSTED_PROXIES", "none")]).unwrap();
    assert!(
        direct.abuse.trusted_proxies.is_empty(),
        "none: clients connect directly"
    );
}

#[test]
fn the_demo_checkout_stays_on_loopback_unless_asked_for_by_name() {
    assert!(settings(&[("BIND_ADDR", "127.0.0.1:8080")]).is_ok());
    assert!(settings(&[("BIND_ADDR", "[::1]:8080")]).is_ok());
    assert_eq!(
        settings(&[("BIND_ADDR", "0.0.0.0:8080")]).unwrap_err().var,
        "BIND_ADDR"
    );
    assert!(settings(&[("BIND_ADDR", "0.0.0.0:8080"), ("PAYMENT_PROVIDER", "demo")]).is_ok());
    let mut stripe = STRIPE.to_vec();
    stripe.push(("BIND_ADDR", "0.0.0.0:8080"));
    assert!(settings(&stripe).is_ok(), "real Stripe may listen anywhere");
}

#[test]
fn invalid_numbers_name_their_variable() {
    assert_eq!(
        settings(&[("MAX_COFFEES", "lots")]).unwrap_err().var,
        "MAX_COFFEES"
    );
    assert_eq!(
        settings(&[("COFFEE_PRICE_CENTS", "0")]).unwrap_err().var,
        "COFFEE_PRICE_CENTS"
    );
    assert_eq!(
        settings(&[("PUBLIC_URL", "example.org")]).unwrap_err().var,
        "PUBLIC_URL"
    );
}

#[test]
fn urls_are_normalised_and_userinfo_queries_and_other_schemes_are_refused() {
    let public = |raw: &str| settings(&[("PUBLIC_URL", raw)]).map(|s| s.server.public_url);
    assert_eq!(
        public("HTTPS://Kaffee.Example.DE:443/").unwrap().as_deref(),
        Some("https://kaffee.example.de")
    );
    assert_eq!(
        public("http://127.0.0.1:8080").unwrap().as_deref(),
        Some("http://127.0.0.1:8080")
    );
    assert_eq!(
        public("https://example.de/kaffee/").unwrap().as_deref(),
        Some("https://example.de/kaffee")
    );
    for bad in [
        "https://user:pw@kaffee.example.de",
        "https://kaffee.example.de/?x=1",
        "https://kaffee.example.de/#top",
        "ftp://kaffee.example.de",
        "javascript:alert(1)",
        "https://",
        "https://kaffee.example.de/a b",
        "https://kaffee.example.de/\"",
    ] {
        assert_eq!(public(bad).unwrap_err().var, "PUBLIC_URL", "{bad}");
    }
    let blog = settings(&[("BLOG_URL", "https://Blog.Example.DE/posts/")]).unwrap();
    assert_eq!(
        blog.site.blog_url.as_deref(),
        Some("https://blog.example.de/posts/")
    );
    // Only linked to, never built upon: a WordPress page's query is part of its address.
    let page = settings(&[("PRIVACY_URL", "https://blog.example.de/?page_id=3#daten")]).unwrap();
    assert_eq!(
        page.site.privacy_url.as_deref(),
        Some("https://blog.example.de/?page_id=3#daten")
    );
    assert_eq!(
        settings(&[("BLOG_URL", "https://a@b.de")]).unwrap_err().var,
        "BLOG_URL"
    );
}

#[test]
fn embed_origins_default_to_any_and_reject_header_injection() {
    assert_eq!(settings(&[]).unwrap().site.embed_origins, vec!["*"]);
    let s = settings(&[("EMBED_ORIGINS", "https://blog.example.de, http://localhost:4000")]).unwrap();
    assert_eq!(s.site.embed_origins.len(), 2);
    assert_eq!(
        settings(&[("EMBED_ORIGINS", "https://x.de; script-src *")])
            .unwrap_err()
            .var,
        "EMBED_ORIGINS"
    );
}

#[test]
fn a_short_admin_token_stops_startup() {
    assert_eq!(
        settings(&[("ADMIN_TOKEN", "too-short")]).unwrap_err().var,
        "ADMIN_TOKEN"
    );
    let s = settings(&[("ADMIN_TOKEN", &"x".repeat(32))]).unwrap();
    assert!(s.admin.token.is_some());
    assert!(!format!("{s:?}").contains(&"x".repeat(32)));
}

#[test]
fn moderation_defaults_to_links() {
    assert_eq!(settings(&[]).unwrap().rules.moderation, Moderation::Links);
    assert_eq!(
        settings(&[("MODERATION", "all")]).unwrap().rules.moderation,
        Moderation::All
    );
    assert_eq!(
        settings(&[("MODERATION", "maybe")]).unwrap_err().var,
        "MODERATION"
    );
}

#[test]
fn a_goal_needs_a_positive_number_of_coffees() {
    let s = settings(&[("GOAL_COFFEES", "100"), ("GOAL_LABEL", "Neuer Laptop")]).unwrap();
    assert_eq!(s.site.goal.unwrap().coffees, 100);
    assert_eq!(
        settings(&[("GOAL_COFFEES", "0")]).unwrap_err().var,
        "GOAL_COFFEES"
    );
}

#[test]
fn a_comma_separated_secret_list_is_accepted_and_never_debug_printed() {
    let s = settings(&[("STRIPE_WEBHOOK_SECRET", "whsec_one, whsec_two")]).unwrap();
    assert_eq!(s.webhook.secrets.len(), 2);
    assert!(!format!("{s:?}").contains("whsec_one"));
}

#[test]
fn notification_channels_need_their_companions_and_name_what_is_missing() {
    let err = |vars: &[(&str, &str)]| settings(vars).unwrap_err().var;
    assert_eq!(
        err(&[("NOTIFY_WEBHOOK_URL", "https://hooks.example.de/k")]),
        "NOTIFY_WEBHOOK_SECRET"
    );
    assert_eq!(
        err(&[
            ("NOTIFY_WEBHOOK_URL", "https://hooks.example.de/k"),
            ("NOTIFY_WEBHOOK_SECRET", "short")
        ]),
        "NOTIFY_WEBHOOK_SECRET"
    );
    assert_eq!(err(&[("NOTIFY_EMAIL_TO", "blog@example.de")]), "SMTP_URL");
    assert_eq!(
        err(&[
            ("NOTIFY_EMAIL_TO", "not an address"),
            ("SMTP_URL", "smtp://localhost")
        ]),
        "NOTIFY_EMAIL_TO"
    );
    assert_eq!(
        err(&[("NOTIFY_EMAIL_TO", "blog@example.de"), ("SMTP_URL", "http://x")]),
        "SMTP_URL"
    );
    assert_eq!(
        err(&[("NOTIFY_NTFY_URL", "https://user:pw@ntfy.sh/topic")]),
        "NOTIFY_NTFY_URL"
    );
    assert_eq!(err(&[("NOTIFY_NTFY_URL", "https://ntfy.sh")]), "NOTIFY_NTFY_URL");
    assert_eq!(err(&[("NOTIFY_LANG", "fr")]), "NOTIFY_LANG");
    assert_eq!(err(&[("METRICS_TOKEN", "too-short")]), "METRICS_TOKEN");
    assert_eq!(
        err(&[("NOTIFY_NTFY_URL", "https://ntfy.sh/topic?x=1")]),
        "NOTIFY_NTFY_URL"
    );
    let plaintext = [
        ("NOTIFY_EMAIL_TO", "blog@example.de"),
        ("SMTP_URL", "smtp://user:pw@mail.example.de:587"),
    ];
    assert_eq!(
        err(&plaintext),
        "SMTP_URL",
        "a password must not travel unencrypted"
    );
    for fine in [
        "smtp://user:pw@mail.example.de:587?tls=required",
        "smtps://user:pw@mail.example.de",
        "smtp://127.0.0.1:2525",
    ] {
        assert!(
            settings(&[("NOTIFY_EMAIL_TO", "blog@example.de"), ("SMTP_URL", fine)]).is_ok(),
            "{fine}"
        );
    }
    let ntfy = settings(&[("NOTIFY_NTFY_URL", "https://example.de/ntfy/kaffee-topic")])
        .unwrap()
        .notify
        .ntfy
        .unwrap();
    assert_eq!(
        (ntfy.server.as_str(), ntfy.topic.as_str()),
        ("https://example.de/ntfy/", "kaffee-topic")
    );

    let all = settings(&[
        ("NOTIFY_NTFY_URL", "https://ntfy.sh/kaffee"),
        ("NOTIFY_WEBHOOK_URL", "https://hooks.example.de/k"),
        ("NOTIFY_WEBHOOK_SECRET", "0123456789abcdef0123456789abcdef"),
        ("NOTIFY_EMAIL_TO", "Blog <blog@example.de>"),
        ("SMTP_URL", "smtps://user:pass@mail.example.de"),
    ])
    .unwrap();
    assert_eq!(all.notify.channels().len(), 3);
    assert_eq!(
        all.notify.email.unwrap().from,
        "Blog <blog@example.de>",
        "sent to oneself by default"
    );
    assert!(settings(&[]).unwrap().notify.channels().is_empty());
}

#[test]
fn demo_mode_relaxes_the_per_client_donate_limit_unless_set() {
    let per_ip = |vars: &[(&str, &str)]| {
        let (rate, burst) = settings(vars).unwrap().abuse.donate_rate_per_ip.unwrap();
        (rate.count.get(), rate.period.as_secs(), burst.get())
    };
    assert_eq!(per_ip(&[]), (30, 60, 30), "a blogger testing the demo");
    let stripe = [
        ("STRIPE_SECRET_KEY", "sk_test_x"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_a"),
    ];
    assert_eq!(per_ip(&stripe), (5, 600, 3), "readers of a live jar");
    assert_eq!(
        per_ip(&[("DONATE_RATE_PER_IP", "5/10min"), ("DONATE_BURST_PER_IP", "2")]),
        (5, 600, 2)
    );
}
