//! Admin sessions: the blogger is never locked out of a live session, and a session ends on the
//! server when it should (logout, "log out everywhere", a new ADMIN_TOKEN).

use crate::helpers::*;

async fn admin_page(app: &TestApp, cookie: &str) -> u16 {
    app.client
        .get(app.url("/admin"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn post_with_cookie(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> u16 {
    app.client
        .post(app.url(path))
        .header("Cookie", cookie)
        .header("Origin", &app.address)
        .form(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn wrong_tokens_from_the_blogger_s_address_do_not_lock_out_their_live_session() {
    let app = TestApp::with_admin(&[]).await;
    let cookie = app.login().await;
    for _ in 0..6 {
        let wrong = app
            .client
            .get(app.url("/api/admin/totals"))
            .header("Authorization", "Bearer guess")
            .send()
            .await
            .unwrap();
        assert!([401, 429].contains(&wrong.status().as_u16()));
    }
    assert_eq!(
        app.admin_get("/api/admin/totals").await.status(),
        429,
        "token guesses are locked out"
    );

    assert_eq!(
        admin_page(&app, &cookie).await,
        200,
        "the live session still works"
    );
}

#[tokio::test]
async fn logging_out_ends_the_session_on_the_server_so_a_copied_cookie_stops_working() {
    let app = TestApp::with_admin(&[]).await;
    let cookie = app.login().await;
    let copy = cookie.clone();
    let other = app.login().await;

    assert_eq!(post_with_cookie(&app, "/admin/logout", &cookie, &[]).await, 303);

    assert_eq!(admin_page(&app, &copy).await, 401, "the copied cookie is dead");
    assert_eq!(admin_page(&app, &other).await, 200, "other sessions live on");
}

#[tokio::test]
async fn log_out_everywhere_ends_every_session_from_the_page_or_the_command_line() {
    let app = TestApp::with_admin(&[]).await;
    let (first, second) = (app.login().await, app.login().await);
    let page = app
        .client
        .get(app.url("/admin"))
        .header("Cookie", &first)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Überall abmelden"));
    let csrf = csrf_from(&page);

    assert_eq!(
        post_with_cookie(&app, "/admin/logout-all", &first, &[("csrf", "forged")]).await,
        403
    );
    assert_eq!(
        post_with_cookie(&app, "/admin/logout-all", &first, &[("csrf", &csrf)]).await,
        303
    );

    assert_eq!(admin_page(&app, &first).await, 401);
    assert_eq!(admin_page(&app, &second).await, 401);

    let third = app.login().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kaffeekasse"))
        .args(["admin", "logout-all"])
        .env_clear()
        .env("DATABASE_URL", &app.settings.database.url)
        .current_dir(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ended 1 admin session"));
    assert_eq!(admin_page(&app, &third).await, 401);
}

#[tokio::test]
async fn a_new_admin_token_ends_every_session() {
    let app = TestApp::with_admin(&[]).await;
    let cookie = app.login().await;
    let url = app.settings.database.url.clone();

    let rotated = spawn_app_with(&[
        ("DATABASE_URL", &url),
        ("ADMIN_TOKEN", "a-brand-new-admin-token-0123456789abcdef"),
    ])
    .await;
    let same = TestApp::with_admin(&[("DATABASE_URL", &url)]).await;

    assert_eq!(
        admin_page(&rotated, &cookie).await,
        401,
        "signed with the old token"
    );
    assert_eq!(
        admin_page(&same, &cookie).await,
        200,
        "same token, same database: still valid"
    );
}

#[tokio::test]
async fn the_database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    app.donation("cs_mode").paid().await;
    let path = app
        .settings
        .database
        .url
        .trim_start_matches("sqlite://")
        .to_owned();
    for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
}

#[tokio::test]
async fn private_pages_are_never_cached_and_https_sends_hsts() {
    let app = TestApp::with_admin(&[("PUBLIC_URL", "https://kaffee.example.de")]).await;
    app.donation("cs_cache").paid().await;
    for path in [
        "/thanks?session_id=cs_cache",
        "/manage/nope.nope",
        "/admin",
        "/admin/login",
        "/api/admin/totals",
        // The form pages: each carries its own nonce.
        "/",
        "/widget",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
    let public = app.get("/api/stats").await;
    assert!(
        public.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );

    let plain = spawn_app().await;
    assert!(
        !plain
            .get("/")
            .await
            .headers()
            .contains_key("strict-transport-security")
    );
}
