//! Static files, compiled into the binary so one file is the whole install. Pages link them with a content hash in
//! the query string, so browsers may cache them for a year and still see a new version at once.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const STYLESHEET: &str = include_str!("../../../static/concord.css");
const SCRIPT: &str = include_str!("../../../static/concord.js");

/// One version for both files: either changing gives every page new links.
static STYLESHEET_VERSION: LazyLock<String> =
    LazyLock::new(|| hex::encode(&Sha256::digest(format!("{STYLESHEET}{SCRIPT}").as_bytes())[..6]));

pub fn stylesheet_version() -> &'static str {
    &STYLESHEET_VERSION
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/concord.css", web::get().to(stylesheet))
        .route("/static/concord.js", web::get().to(script));
}

async fn stylesheet() -> HttpResponse {
    immutable("text/css; charset=utf-8", STYLESHEET)
}

async fn script() -> HttpResponse {
    immutable("text/javascript; charset=utf-8", SCRIPT)
}

fn immutable(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::ETAG, format!("\"{}\"", stylesheet_version())))
        .body(body)
}
