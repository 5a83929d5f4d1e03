//! The routes the app registers, read from where they are registered.

use std::collections::BTreeSet;

/// Every route the app registers, read from where they are registered. A line this cannot read
/// fails the test, so a new way of registering routes cannot slip past it.
pub fn registered_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for file in [
        "src/routes/mod.rs",
        "src/routes/admin/mod.rs",
        "src/routes/demo.rs",
    ] {
        let source = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        // Whitespace-free, so a call rustfmt spread over lines reads like one on a line.
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .flat_map(str::chars)
            .filter(|c| !c.is_whitespace())
            .collect();
        let (mut scope, mut resource) = (String::new(), None::<String>);
        let quoted = |l: &str, after: &str| {
            l.split(after)
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_owned)
        };
        // Each piece starts at a `.route(`, `web::scope(` or `web::resource(`.
        let marked = code
            .replace(".route(", "\n.route(")
            .replace("web::scope(", "\nweb::scope(")
            .replace("web::resource(", "\nweb::resource(")
            .replace("(public(", "(\npublic(");
        for line in marked.lines() {
            if let Some(s) = quoted(line, "web::scope(\"") {
                scope = s;
            }
            // `public(path)` is a resource that may be compressed (routes/mod.rs).
            if let Some(r) = quoted(line, "web::resource(\"").or_else(|| quoted(line, "public(\"")) {
                resource = Some(format!("{scope}{r}"));
            }
            if !line.starts_with(".route(") {
                continue;
            }
            let method = if line.contains("method::get()") {
                "GET"
            } else if line.contains("web::post()") {
                "POST"
            } else {
                panic!("{file}: a route with a method this test does not know: {line}")
            };
            let path = match quoted(line, ".route(\"") {
                Some(p) => format!("{scope}{p}"),
                None => resource
                    .clone()
                    .unwrap_or_else(|| panic!("{file}: a route without a path: {line}")),
            };
            routes.insert((method.to_owned(), path));
        }
    }
    routes
}
