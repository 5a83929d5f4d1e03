//! `openapi.yaml` describes the JSON API as it is: every route it lists exists, and every route
//! that answers JSON is listed.

use std::collections::BTreeSet;

use crate::helpers::*;

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef01234567";

/// `(METHOD, /path/{param})` pairs listed in openapi.yaml (two-space paths, four-space methods).
fn documented() -> BTreeSet<(String, String)> {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    assert!(spec.starts_with("openapi: 3.1.0"));
    let mut routes = BTreeSet::new();
    let (mut in_paths, mut path) = (false, None::<String>);
    for line in spec.lines() {
        if !line.starts_with(' ') {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end_matches(':')));
        } else if let Some(m) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':'))
            && ["get", "post", "put", "patch", "delete"].contains(&m)
        {
            routes.insert((m.to_uppercase(), path.clone().expect("a method under a path")));
        }
    }
    routes
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "nope")
        .replace("{action}", "hide")
        .replace("{token}", "nope.nope")
}

#[tokio::test]
async fn every_documented_route_exists_and_every_json_route_is_documented() {
    let app = TestApp::with_admin(&[("METRICS_TOKEN", METRICS_TOKEN)]).await;
    let (documented, registered) = (documented(), registered_routes());
    assert!(registered.len() >= 30, "the route reader found {registered:?}");
    for route in &documented {
        assert!(
            registered.contains(route),
            "openapi.yaml lists {route:?}, which the app does not register"
        );
    }

    let mut answers_json = BTreeSet::new();
    for (method, path) in &registered {
        let url = app.url(&concrete(path));
        let request = match method.as_str() {
            "GET" => app.client.get(url),
            // A form body: a page route then answers as a page, whatever JSON it might speak.
            _ => app.client.post(url).form(&[("x", "")]),
        };
        let token = if path == "/metrics" {
            METRICS_TOKEN
        } else {
            ADMIN_TOKEN
        };
        let response = request.bearer_auth(token).send().await.unwrap();
        let json = response
            .headers()
            .get("content-type")
            .is_some_and(|ct| ct.to_str().unwrap().starts_with("application/json"));
        if json {
            answers_json.insert((method.clone(), path.clone()));
        }
    }
    // Each request above was routed to its registered pattern, not to the 404 fallback: the
    // metrics count requests by the pattern they matched.
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    let metrics = metrics.text().await.unwrap();
    for (method, path) in &registered {
        let demo_only = path.starts_with("/demo/");
        let label = format!("method=\"{method}\",route=\"{path}\"");
        assert!(
            demo_only || metrics.contains(&label),
            "{method} {path} was not routed to its pattern"
        );
    }
    assert!(answers_json.len() >= 12, "{answers_json:?}");
    for route in &answers_json {
        assert!(
            documented.contains(route),
            "{route:?} answers JSON but is not in openapi.yaml"
        );
    }
}
