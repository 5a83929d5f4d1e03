//! Query strings are cheap (#20): a long one is refused with 414, one with too many parameters
//! with 400, each as a page in the reader's language, and the language link echoes only what a
//! page reads.

use crate::helpers::*;

#[tokio::test]
async fn a_64_kib_query_is_refused_414_as_a_page_in_the_readers_language() {
    let app = spawn_app().await;
    // Just under what a URI may hold (64 KiB), far over our 2 KiB.
    let flood = format!("/supporters?{}", "a&".repeat(30_000));

    let english = app
        .client
        .get(app.url(&flood))
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();

    assert_eq!(english.status(), 414);
    let page = english.text().await.unwrap();
    assert!(page.contains("lang=\"en\""), "{page}");
    assert!(
        page.len() < 20_000,
        "the query is not echoed: {} bytes",
        page.len()
    );
    let json = app.get(&format!("/api/stats?{}", "b=1&".repeat(1000))).await;
    assert_eq!(json.status(), 414);
    assert!(
        json.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn too_many_parameters_are_refused_400_and_a_few_are_fine() {
    let app = spawn_app().await;
    let many = (0..40).map(|i| format!("p{i}=1")).collect::<Vec<_>>().join("&");

    assert_eq!(app.get(&format!("/?{many}")).await.status(), 400);
    assert_eq!(app.get("/?canceled=1&lang=en").await.status(), 200);
}

#[tokio::test]
async fn the_language_link_carries_only_the_parameters_the_page_reads() {
    let app = spawn_app().await;

    let page = app
        .get("/supporters?utm_source=newsletter&junk=%22%3E%3Cb%3Ex&lang=de")
        .await
        .text()
        .await
        .unwrap();

    assert!(page.contains("href=\"/supporters?lang=en\""), "{page}");
    assert!(!page.contains("utm_source") && !page.contains("junk"));
}
