//! The whole flow in a real headless Chromium, driven through chromedriver by fantoccini.
//! Screenshots land in target/e2e/ (CI keeps them as artifacts).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL_HINT: &str = "Chromium is needed for the browser test: run `apt-get install -y chromium chromium-driver` \
     (scripts/test installs them when missing)";

/// A chromedriver process, killed on drop.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn start_driver() -> Driver {
    assert!(
        Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
        "{INSTALL_HINT}"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(INSTALL_HINT);
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    // Wait for chromedriver to report ready (a condition, not a fixed sleep).
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = reqwest::Client::new();
    loop {
        let ready = http.get(format!("{}/status", driver.url)).send().await;
        if let Ok(r) = ready
            && let Ok(body) = r.json::<serde_json::Value>().await
            && body["value"]["ready"] == true
        {
            return driver;
        }
        assert!(Instant::now() < deadline, "chromedriver did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
                     "--disable-dev-shm-usage", "--lang=de-DE", format!("--user-data-dir={}", profile.display())],
            // A German reader, as on the blog.
            "prefs": {"intl.accept_languages": "de-DE,de"},
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

pub fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e");
    std::fs::create_dir_all(&dir).expect("target/e2e");
    dir
}

/// Saves the page at desktop and phone width.
async fn shoot(c: &Client, name: &str) {
    let dir = screenshots_dir();
    for (suffix, width, height) in [("desktop", 1280, 900), ("phone", 390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}-{suffix}.png")), png).unwrap();
    }
    c.set_window_size(1280, 900).await.unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reader_donates_two_coffees_in_chromium_and_appears_on_the_wall() {
    let app = spawn_demo_app().await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // 1. Open the page.
    c.goto(&app.url("/")).await.unwrap();
    assert_eq!(text_of(&c, "h1").await, "Spendiere mir einen Kaffee");
    shoot(&c, "1-home").await;

    // 2. Two coffees, a name, a message, the public tick, the button.
    c.find(Locator::Css("#coffees"))
        .await
        .unwrap()
        .select_by_value("2")
        .await
        .unwrap();
    c.find(Locator::Css("#name"))
        .await
        .unwrap()
        .send_keys("Erika Mustermann")
        .await
        .unwrap();
    c.find(Locator::Css("#message"))
        .await
        .unwrap()
        .send_keys("Danke für die tollen Artikel!")
        .await
        .unwrap();
    c.find(Locator::Css("#public"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("form.donate button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // 3. The demo checkout: pay.
    let pay = c
        .wait()
        .for_element(Locator::XPath("//button[normalize-space()='Bezahlen']"))
        .await
        .unwrap();
    let total = text_of(&c, ".total").await;
    assert!(
        total.contains("2 Kaffees") && total.contains("10,00") && total.contains('€'),
        "{total}"
    );
    shoot(&c, "2-demo-checkout").await;
    pay.click().await.unwrap();

    // 4. Thanks.
    c.wait()
        .for_element(Locator::XPath("//h1[normalize-space()='Danke!']"))
        .await
        .expect("the thanks page says Danke!");
    shoot(&c, "3-thanks").await;

    // 5. The wall.
    c.goto(&app.url("/supporters")).await.unwrap();
    let wall = text_of(&c, "ul.supporters").await;
    assert!(wall.contains("Erika Mustermann"), "{wall}");
    assert!(wall.contains("Danke für die tollen Artikel!"), "{wall}");
    assert!(wall.contains("2 Kaffees"), "{wall}");
    shoot(&c, "4-supporters").await;

    // 6. The widget and the badge count the coffees.
    c.goto(&app.url("/widget")).await.unwrap();
    let totals = text_of(&c, "#widget-totals").await.replace('\u{a0}', " ");
    assert_eq!(totals, "☕ 2 Kaffees von 1 Unterstützer:in · 10,00 €");
    c.goto(&app.url("/badge.svg")).await.unwrap();
    assert!(c.source().await.unwrap().contains("2 Kaffees"));

    c.close().await.unwrap();
}
