//! Signing in and out, throttling, and first-run setup through the browser.

use crate::harness::{TestApp, PASSWORD};
use concord::accounts::role::Role;
use reqwest::StatusCode;

#[tokio::test]
async fn login_succeeds_and_lands_on_the_role_home() {
    let app = TestApp::spawn().await;
    app.create_user("boss@example.test", Role::Admin, None)
        .await;
    let browser = app.browser();
    // Email case and surrounding space do not matter.
    browser
        .login("  Boss@Example.TEST ", PASSWORD)
        .await
        .assert_redirect("/admin");
    browser.get("/admin").await.assert_contains("Dashboard");
}

#[tokio::test]
async fn login_returns_to_the_page_asked_for_but_never_off_site() {
    let app = TestApp::spawn().await;
    app.create_user("boss@example.test", Role::Admin, None)
        .await;
    let browser = app.browser();
    browser
        .get("/admin/tiers")
        .await
        .assert_redirect("/login?next=%2Fadmin%2Ftiers");
    let form = browser.get("/login?next=%2Fadmin%2Ftiers").await;
    let token = form.csrf_token();
    let fields = [
        ("csrf_token", token.as_str()),
        ("email", "boss@example.test"),
        ("password", PASSWORD),
        ("next", "/admin/tiers"),
    ];
    browser
        .post_raw("/login", &fields)
        .await
        .assert_redirect("/admin/tiers");

    let other = app.browser();
    let token = other.get("/login").await.csrf_token();
    let fields = [
        ("csrf_token", token.as_str()),
        ("email", "boss@example.test"),
        ("password", PASSWORD),
        ("next", "//evil.example/"),
    ];
    other
        .post_raw("/login", &fields)
        .await
        .assert_redirect("/admin");
}

#[tokio::test]
async fn wrong_password_shows_an_error_and_keeps_the_email() {
    let app = TestApp::spawn().await;
    app.create_user("boss@example.test", Role::Admin, None)
        .await;
    let page = app
        .browser()
        .login("boss@example.test", "not the password")
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    page.assert_contains("That email and password do not match an account.")
        .assert_contains("value=\"boss@example.test\"");
}

#[tokio::test]
async fn sixth_failed_attempt_within_fifteen_minutes_is_refused_with_429() {
    let app = TestApp::spawn().await;
    app.create_user("boss@example.test", Role::Admin, None)
        .await;
    let browser = app.browser();
    for attempt in 1..=5 {
        let page = browser.login("boss@example.test", "wrong password").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let page = browser.login("boss@example.test", "wrong password").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    page.assert_contains("Too many failed sign-in attempts")
        .assert_contains("value=\"boss@example.test\"");
    // Even the right password waits for the window to pass, from any browser.
    let page = app.browser().login("boss@example.test", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    // Other accounts are not affected.
    app.create_user("other@example.test", Role::Admin, None)
        .await;
    app.browser()
        .login("other@example.test", PASSWORD)
        .await
        .assert_redirect("/admin");
}

#[tokio::test]
async fn logout_ends_the_session_even_for_a_copied_cookie() {
    let app = TestApp::spawn().await;
    app.create_user("boss@example.test", Role::Admin, None)
        .await;
    let browser = app.browser();
    browser
        .login("boss@example.test", PASSWORD)
        .await
        .assert_redirect("/admin");
    let stolen = browser.session_cookie().expect("a session cookie");

    browser
        .submit("/admin", "/logout", &[])
        .await
        .assert_redirect("/login");
    browser
        .get("/login")
        .await
        .assert_contains("You are signed out.");
    browser
        .get("/admin")
        .await
        .assert_redirect("/login?next=%2Fadmin");

    let thief = app.browser();
    thief
        .jar
        .add_cookie_str(&stolen, &app.address.parse().unwrap());
    thief
        .get("/admin")
        .await
        .assert_redirect("/login?next=%2Fadmin");
}

#[tokio::test]
async fn setup_link_creates_the_first_admin_once() {
    let app = TestApp::spawn().await;
    let setup_url = app
        .setup_url
        .clone()
        .expect("a setup link while no admin exists");
    let path_and_query = &setup_url[app.address.len()..];
    let browser = app.browser();

    assert_eq!(
        browser.get("/setup?token=wrong").await.status,
        StatusCode::NOT_FOUND
    );
    let form = browser.get(path_and_query).await;
    assert_eq!(form.status, StatusCode::OK);
    let token = path_and_query.split("token=").nth(1).unwrap();

    // A bad field is explained and the rest is kept.
    let csrf = form.csrf_token();
    let bad = [
        ("csrf_token", csrf.as_str()),
        ("token", token),
        ("program_name", "Acme Partners"),
        ("currency", "EURO"),
        ("email", "first@example.test"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    let page = browser.post_raw("/setup", &bad).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("three-letter ISO currency code")
        .assert_contains("value=\"Acme Partners\"")
        .assert_contains("value=\"first@example.test\"");

    let good = [
        ("csrf_token", csrf.as_str()),
        ("token", token),
        ("program_name", "Acme Partners"),
        ("currency", "eur"),
        ("name", "First Admin"),
        ("email", "first@example.test"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    browser
        .post_raw("/setup", &good)
        .await
        .assert_redirect("/admin");
    browser
        .get("/admin")
        .await
        .assert_contains("Acme Partners")
        .assert_contains("First Admin");

    // Gone afterwards, for the same link and for a replay of the form.
    assert_eq!(
        browser.get(path_and_query).await.status,
        StatusCode::NOT_FOUND
    );
    let again = browser.get("/admin").await.csrf_token();
    let mut replay = good;
    replay[0].1 = again.as_str();
    replay[5].1 = "second@example.test";
    assert_eq!(
        browser.post_raw("/setup", &replay).await.status,
        StatusCode::NOT_FOUND
    );
    let second_exists = app
        .db(|conn| {
            concord::accounts::store::users::find_by_email(conn, "second@example.test")
                .unwrap()
                .is_some()
        })
        .await;
    assert!(!second_exists);
}
