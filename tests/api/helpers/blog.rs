//! Blogs to paste snippets into: a plain HTML page and a Hugo site built with the recipe from
//! `contrib/hugo/`, served from loopback by a tiny static file server.

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::TestApp;

const HUGO_HINT: &str = "Hugo is needed for the Hugo recipe test: run `apt-get install -y hugo` \
     (scripts/test installs it when missing)";

/// The snippets `/embed` shows as code, in its order (button, button with a choice, badge,
/// widget, feed), unescaped: what a blogger copies.
pub async fn embed_snippets(app: &TestApp, lang: &str) -> Vec<String> {
    let html = app
        .get(&format!("/embed?lang={lang}"))
        .await
        .text()
        .await
        .unwrap();
    html.split("<textarea")
        .skip(1)
        .map(|part| {
            let body = &part[part.find('>').unwrap() + 1..part.find("</textarea>").unwrap()];
            unescape(body)
        })
        .collect()
}

/// The entities askama writes.
fn unescape(text: &str) -> String {
    text.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
}

/// A plain HTML page of a blog with `snippets` pasted into its article.
pub fn plain_page(dir: &Path, snippets: &[String]) -> PathBuf {
    let page = format!(
        "<!doctype html>\n<html lang=\"de\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Ein Blog</title></head>\n\
         <body>\n<main>\n<h1>Ein Artikel</h1>\n<p>Danke fürs Lesen! Wer mag, spendiert mir einen Kaffee.</p>\n{}\n</main>\n</body>\n</html>\n",
        snippets.join("\n<p>Noch ein Absatz.</p>\n")
    );
    let path = dir.join("plain/index.html");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, page).unwrap();
    path
}

/// A one-post Hugo site using `contrib/hugo/`'s shortcode with the jar at `jar_url`, built with
/// `hugo` into `dir/hugo/public`. Returns the post's HTML file.
pub fn hugo_site(dir: &Path, jar_url: &str, post_body: &str) -> PathBuf {
    let site = dir.join("hugo");
    std::fs::create_dir_all(site.join("content/posts")).unwrap();
    std::fs::create_dir_all(site.join("layouts/_default")).unwrap();
    std::fs::create_dir_all(site.join("layouts/shortcodes")).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/contrib/hugo/layouts/shortcodes/kaffeekasse.html"
        ),
        site.join("layouts/shortcodes/kaffeekasse.html"),
    )
    .unwrap();
    std::fs::write(
        site.join("hugo.toml"),
        format!(
            "baseURL = \"http://127.0.0.1/\"\ntitle = \"Ein Blog\"\n\
             disableKinds = [\"taxonomy\", \"term\", \"RSS\", \"sitemap\", \"robotsTXT\", \"404\"]\n\
             [params.kaffeekasse]\nurl = \"{jar_url}\"\n"
        ),
    )
    .unwrap();
    // A theme's post page, as small as it gets: the post's content in an article.
    std::fs::write(
        site.join("layouts/_default/single.html"),
        "<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{{ .Title }}</title></head>\
         <body><main><h1>{{ .Title }}</h1>{{ .Content }}</main></body></html>\n",
    )
    .unwrap();
    std::fs::write(
        site.join("content/posts/kaffee.md"),
        format!("---\ntitle: \"Ein Artikel\"\n---\nDanke fürs Lesen!\n\n{post_body}\n"),
    )
    .unwrap();
    let out = Command::new("hugo")
        .arg("--quiet")
        .current_dir(&site)
        .output()
        .expect(HUGO_HINT);
    assert!(
        out.status.success(),
        "hugo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    site.join("public/posts/kaffee/index.html")
}

/// Serves the files under `root` on a loopback port until the test ends; returns its base URL.
pub async fn serve_dir(root: PathBuf) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let root = root.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let path = path.split('?').next().unwrap_or("/").trim_start_matches('/');
                let mut file = root.join(path);
                if path.is_empty() || path.ends_with('/') {
                    file = file.join("index.html");
                }
                let response = match std::fs::read(&file) {
                    Ok(body) if !path.contains("..") => {
                        let mut head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        head.extend(body);
                        head
                    }
                    _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                };
                let _ = stream.write_all(&response).await;
            });
        }
    });
    base
}
