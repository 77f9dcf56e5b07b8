//! Issue 21, security hardening, over real HTTP on both databases: bounded memory for anonymous traffic, the org's
//! status checked on every partner page, client IPs, and the headers every page carries.

use futures_util::StreamExt;
use reqwest::StatusCode;

use crate::harness::TestApp;
use concord::affiliate::tracking::{MAX_CACHED_LINKS, MAX_CACHED_MISSES};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sends GET `paths` sixteen at a time; returns how many answered 404.
async fn not_found(client: &reqwest::Client, base: &str, paths: Vec<String>) -> usize {
    futures_util::stream::iter(paths)
        .map(|path| {
            let request = client.get(format!("{base}{path}")).send();
            async move { request.await.unwrap().status() == StatusCode::NOT_FOUND }
        })
        .buffer_unordered(16)
        .filter(|missing| std::future::ready(*missing))
        .count()
        .await
}

#[tokio::test]
async fn made_up_and_overlong_codes_keep_the_link_cache_bounded_and_real_links_keep_working() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    app.affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
        .await;
    let client = no_redirects();

    // Codes of 64,000 characters, as in the audit: 404 before any lookup, and nothing kept.
    let long: Vec<String> = (0..40)
        .map(|i| format!("/r/{i}{}", "x".repeat(64_000)))
        .collect();
    assert_eq!(not_found(&client, &app.address, long).await, 40);
    assert_eq!(
        app.link_cache.size().code_bytes,
        0,
        "overlong codes were cached"
    );

    // More made-up codes than the cache keeps for misses: every one is a 404 and the misses stay within their share.
    let made_up: Vec<String> = (0..MAX_CACHED_MISSES + 600)
        .map(|i| format!("/r/made-up-{i}"))
        .collect();
    let count = made_up.len();
    assert_eq!(not_found(&client, &app.address, made_up).await, count);
    let size = app.link_cache.size();
    assert!(size.misses <= MAX_CACHED_MISSES, "{size:?}");
    assert!(
        size.misses > MAX_CACHED_MISSES / 2,
        "misses are cached: {size:?}"
    );
    assert!(size.links <= MAX_CACHED_LINKS);
    assert!(
        size.code_bytes <= (size.links + size.misses) * concord::affiliate::tracking::MAX_CODE_LEN
    );

    // The real link still redirects, and is cached apart from the misses.
    let answer = client
        .get(format!("{}/r/bright", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    assert_eq!(app.link_cache.size().links, 1);
}
