//! The blogger's side: an app with `ADMIN_TOKEN` set, and a browser session.

use super::{TestApp, spawn_app_with};

pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef0123456789";

impl TestApp {
    /// Stripe mode with the admin area on; `overrides` win.
    pub async fn with_admin(overrides: &[(&str, &str)]) -> TestApp {
        let mut vars = vec![("ADMIN_TOKEN", ADMIN_TOKEN)];
        vars.extend_from_slice(overrides);
        spawn_app_with(&vars).await
    }

    /// Signs in through the login form and returns the session cookie (`name=value`).
    pub async fn login(&self) -> String {
        let response = self
            .client
            .post(self.url("/admin/login"))
            .header("Origin", &self.address)
            .form(&[("token", ADMIN_TOKEN)])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 303, "login should succeed");
        let set_cookie = response.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .to_owned();
        set_cookie.split(';').next().expect("name=value").to_owned()
    }

    /// `POST /api/admin/…` with the bearer token and an optional JSON body.
    pub async fn admin_post(&self, path: &str, body: Option<serde_json::Value>) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(path))
            .header("Authorization", format!("Bearer {ADMIN_TOKEN}"));
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("admin POST")
    }

    /// `GET` with the bearer token.
    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
            .send()
            .await
            .expect("admin GET")
    }
}
