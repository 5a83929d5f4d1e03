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

pub async fn text_of(c: &Client, css: &str) -> String {
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

/// How one pasted snippet renders: the styled button's colour, and whether anything is wider
/// than the page or the widget's frame keeps a border.
const SNIPPET_LAYOUT: &str = "const width = document.documentElement.clientWidth;
    const buttons = [...document.querySelectorAll('main button')];
    const frame = document.querySelector('main iframe');
    return {
        buttons: buttons.length,
        styled: buttons.every(b => getComputedStyle(b).backgroundColor === 'rgb(138, 75, 20)'
            && getComputedStyle(b).color === 'rgb(255, 255, 255)'),
        inside: [...document.querySelectorAll('main *')].every(e => e.getBoundingClientRect().right <= width + 0.5),
        frameBorder: frame ? getComputedStyle(frame).borderTopWidth : 'none',
        frameFits: frame ? frame.getBoundingClientRect().width <= Math.min(360, width) : false,
        sideways: document.documentElement.scrollWidth - width,
    };";

/// Saves the page at 1280 and 360 px (`target/e2e/{name}-1280.png`, `-360.png`), checking at
/// each width that the snippets render styled and inside the page.
async fn shoot_blog(c: &Client, name: &str) {
    for width in [1280, 360] {
        c.set_window_size(width, 1000).await.unwrap();
        // The widget's frame loads lazily: wait until it holds the widget.
        let loaded = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const frame = document.querySelector('main iframe');
                 const ready = () => { try { return !!frame.contentDocument.querySelector('#widget-totals'); } catch (e) { return true; } };
                 frame.scrollIntoView();
                 const t = setInterval(() => { if (ready()) { clearInterval(t); window.scrollTo(0, 0); done(true); } }, 50);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(loaded, json!(true), "{name}: the widget loads in its frame");
        let layout = c.execute(SNIPPET_LAYOUT, vec![]).await.unwrap();
        assert_eq!(layout["styled"], json!(true), "{name} at {width}: {layout}");
        assert_eq!(layout["inside"], json!(true), "{name} at {width}: {layout}");
        assert_eq!(layout["frameBorder"], json!("0px"), "{name} at {width}: {layout}");
        assert_eq!(layout["frameFits"], json!(true), "{name} at {width}: {layout}");
        assert_eq!(layout["sideways"], json!(0), "{name} at {width}: {layout}");
        assert!(layout["buttons"].as_u64().unwrap() >= 2, "{layout}");
        let png = c.screenshot().await.unwrap();
        std::fs::write(screenshots_dir().join(format!("{name}-{width}.png")), png).unwrap();
    }
    c.set_window_size(1280, 900).await.unwrap();
}

#[tokio::test]
async fn the_snippets_look_right_pasted_into_a_plain_page_and_a_hugo_post() {
    let app = spawn_demo_app().await;
    // Three supporters, so the widget is as full as it gets.
    for name in ["Erika", "Max", "Donaudampfschifffahrtskapitänin"] {
        let started = app
            .post_form("/donate", &[("coffees", "2"), ("name", name), ("public", "on")])
            .await;
        let checkout = started.headers()["location"].to_str().unwrap().to_owned();
        let pay = format!("{}/pay", checkout.split('?').next().unwrap());
        assert_eq!(app.client.post(pay).send().await.unwrap().status(), 303);
    }
    let dir = tempfile::tempdir().unwrap();
    let de = embed_snippets(&app, "de").await;
    // The one-click button, the button with a choice, the badge and the widget.
    plain_page(dir.path(), &de[..4]);
    hugo_site(
        dir.path(),
        &app.address,
        "{{< kaffeekasse >}}\n\nOder mehrere:\n\n{{< kaffeekasse variant=\"select\" >}}\n\n\
         {{< kaffeekasse variant=\"widget\" >}}",
    );
    std::fs::rename(dir.path().join("hugo/public"), dir.path().join("hugo-public")).unwrap();
    let blog = serve_dir(dir.path().to_owned()).await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    c.goto(&format!("{blog}/plain/")).await.unwrap();
    shoot_blog(&c, "blog-plain").await;
    c.goto(&format!("{blog}/hugo-public/posts/kaffee/"))
        .await
        .unwrap();
    shoot_blog(&c, "blog-hugo").await;

    // The one-click button in the Hugo post starts a checkout for one coffee.
    c.find(Locator::XPath("//main/form[1]//button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::XPath("//button[normalize-space()='Bezahlen']"))
        .await
        .expect("the demo checkout");
    let total = text_of(&c, ".total").await;
    assert!(total.contains("1 Kaffee") && total.contains("5,00"), "{total}");
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_english_reader_sees_english_from_the_form_to_the_thanks_page_in_the_demo() {
    let app = spawn_demo_app().await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // A German browser; the reader picks English on the form.
    c.goto(&app.url("/")).await.unwrap();
    c.find(Locator::Css("footer nav a[hreflang=en]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text_of(&c, "h1").await, "Buy me a coffee");
    let option = text_of(&c, "#coffees option[value='1']").await;
    assert_eq!(option.replace('\u{a0}', " "), "1 coffee – €5.00");
    c.find(Locator::Css("#name"))
        .await
        .unwrap()
        .send_keys("Jane")
        .await
        .unwrap();
    c.find(Locator::Css("form.donate button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let pay = c
        .wait()
        .for_element(Locator::XPath("//button[normalize-space()='Pay']"))
        .await
        .expect("the demo checkout in English");
    let total = text_of(&c, ".total").await;
    assert!(total.contains("1 coffee") && total.contains("€5.00"), "{total}");
    let banner = c.find_all(Locator::Css(".banner")).await.unwrap();
    assert_eq!(banner.len(), 1, "the test-mode banner once");
    assert_eq!(banner[0].text().await.unwrap(), "Test mode – no money is moved");
    shoot(&c, "en-1-demo-checkout").await;
    pay.click().await.unwrap();

    c.wait()
        .for_element(Locator::XPath("//h1[normalize-space()='Thank you!']"))
        .await
        .expect("the thanks page says Thank you!");
    let summary = text_of(&c, ".summary").await;
    assert!(
        summary.contains("1 coffee") && summary.contains("€5.00"),
        "{summary}"
    );
    let manage = c
        .find(Locator::Css(".manage-link a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(manage.ends_with("?lang=en"), "{manage}");
    shoot(&c, "en-2-thanks").await;
    c.goto(&manage).await.unwrap();
    assert_eq!(
        c.execute("return document.documentElement.lang;", vec![])
            .await
            .unwrap(),
        json!("en")
    );
    c.close().await.unwrap();
}
