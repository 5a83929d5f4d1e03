//! The snippets a blogger pastes: one source (`/embed`) for the README and every blog recipe in
//! `contrib/`, and a Hugo site built with the recipe holds the working snippet.

use crate::helpers::*;

const JAR: &str = "https://kaffee.example.de";

fn file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

async fn jar_app() -> TestApp {
    spawn_app_with(&[("PUBLIC_URL", JAR)]).await
}

#[tokio::test]
async fn the_readme_holds_the_snippets_the_embed_page_gives() {
    let app = jar_app().await;
    let readme = file("README.md");
    let de = embed_snippets(&app, "de").await;
    let en = embed_snippets(&app, "en").await;

    assert_eq!(de.len(), 5);
    for snippet in de.iter().chain(&en[..2]) {
        assert!(
            readme.contains(snippet.as_str()),
            "README.md lacks the snippet\n{snippet}"
        );
    }
}

#[tokio::test]
async fn every_blog_recipe_holds_the_embed_snippets_in_both_languages() {
    let app = jar_app().await;
    let recipes = [
        ("contrib/hugo/layouts/shortcodes/kaffeekasse.html", "{{ $url }}"),
        ("contrib/jekyll/_includes/kaffeekasse.html", "{{ url }}"),
        ("contrib/eleventy/_includes/kaffeekasse.njk", "{{ url }}"),
        ("contrib/wordpress/kaffeekasse-button.php", "{url}"),
    ];
    for lang in ["de", "en"] {
        let snippets = embed_snippets(&app, lang).await;
        // The one-click button, the button with a choice, the widget.
        for snippet in [&snippets[0], &snippets[1], &snippets[3]] {
            for (path, url) in recipes {
                let templated = snippet.replace(JAR, url);
                assert!(file(path).contains(&templated), "{path} lacks\n{templated}");
            }
        }
    }
}

#[tokio::test]
async fn a_hugo_post_with_the_shortcode_holds_the_working_snippet_where_raw_html_is_omitted() {
    let app = jar_app().await;
    let dir = tempfile::tempdir().unwrap();
    let de = embed_snippets(&app, "de").await;
    let en = embed_snippets(&app, "en").await;

    let post = hugo_site(
        dir.path(),
        JAR,
        &format!(
            "{{{{< kaffeekasse >}}}}\n\n{{{{< kaffeekasse variant=\"select\" lang=\"en\" >}}}}\n\n\
             {{{{< kaffeekasse variant=\"widget\" >}}}}\n\nPasted as is:\n\n{}",
            de[0]
        ),
    );
    let html = std::fs::read_to_string(post).unwrap();

    assert!(html.contains(&de[0]), "the one-click button\n{html}");
    assert!(html.contains(&en[1]), "the English button with a choice\n{html}");
    assert!(html.contains(&de[3]), "the widget\n{html}");
    // What the README's note is about: Goldmark drops raw HTML unless told otherwise.
    assert!(html.contains("<!-- raw HTML omitted -->"), "{html}");
}

#[tokio::test]
async fn the_embed_page_says_where_the_feed_link_goes_and_links_the_feed() {
    let app = jar_app().await;

    let de = app.get("/embed").await.text().await.unwrap();
    let en = app.get("/embed?lang=en").await.text().await.unwrap();

    assert!(de.contains("gehört in den &#60;head&#62; deines Blogs"), "{de}");
    assert!(de.contains("<a href=\"/supporters.atom?lang=de\">Den Feed öffnen</a>"));
    assert!(en.contains("belongs in your blog&#39;s &#60;head&#62;"));
    assert_eq!(
        de.matches("class=\"preview\"").count(),
        8,
        "four live snippets, two widths each"
    );
}
