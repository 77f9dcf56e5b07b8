//! The benchmark's yardstick: a bare actix-web handler answering `302` with a fixed `Location`, built from the same
//! workspace and crate versions as Concord, so `bench/run.sh` compares the tracked redirect with the cheapest
//! possible one on the same machine in the same run. `cargo run --release --bin bare_redirect --features bench --
//! 127.0.0.1:PORT`.

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    HttpServer::new(|| {
        App::new().route(
            "/r/{code}",
            web::get().to(|| async {
                HttpResponse::Found()
                    .insert_header(("Location", "https://shop.example/"))
                    .insert_header(("Cache-Control", "no-store"))
                    .finish()
            }),
        )
    })
    .bind(bind)?
    .run()
    .await
}
