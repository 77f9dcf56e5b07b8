//! A Stripe-compatible fake over HTTP for the payout tests: `/v1/accounts`, `/v1/account_links`, `/v1/transfers`
//! and `/v1/balance`, with `Idempotency-Key` handled as Stripe documents it (the same key with the same body
//! returns the first response; the same key with another body is an `idempotency_error`), and knobs to fail the
//! next calls or to hold a transfer's answer back (so a test can kill Concord after Stripe made the transfer).
//! No packaged fake has Connect accounts and transfers with idempotency keys, hence this one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

pub const SECRET_KEY: &str = "sk_test_concord_fake";

#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub destination: String,
    pub transfer_group: String,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    accounts: HashMap<String, Value>,
    transfers: Vec<Transfer>,
    /// key -> (the request's method, path and body; status; response)
    idempotent: HashMap<String, (String, u16, Value)>,
    /// How many requests repeated an idempotency key and got the first answer back.
    replays: usize,
    fail_next: Vec<(u16, String)>,
    /// Transfers still to answer before one is held back.
    hold_after: Option<usize>,
    /// While set, transfer requests wait (unanswered, not yet made) until `resume_transfers`.
    transfers_paused: bool,
}

#[derive(Clone)]
pub struct FakeStripe {
    state: Arc<Mutex<State>>,
    pub base: String,
}

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn error(status: u16, kind: &str, message: &str) -> (u16, Value) {
    (status, json!({"error": {"type": kind, "message": message}}))
}

impl FakeStripe {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}/");
        let fake = Self {
            state: state.clone(),
            base: base.clone(),
        };
        let shared = fake.clone();
        let server = HttpServer::new(move || {
            let fake = shared.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let fake = fake.clone();
                async move { fake.answer(req, body).await }
            }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        fake
    }

    /// The next `count` calls fail with this status and message (and are not stored under their key).
    pub fn fail_next(&self, count: usize, status: u16, message: &str) {
        let mut state = self.state.lock().unwrap();
        for _ in 0..count {
            state.fail_next.push((status, message.to_string()));
        }
    }

    /// Answers `answered` transfers, then makes and stores the next one but holds its answer back for a minute.
    pub fn hold_transfer_after(&self, answered: usize) {
        self.state.lock().unwrap().hold_after = Some(answered);
    }

    /// Transfer requests wait at the door, neither made nor answered, until `resume_transfers`: a payout stays in
    /// flight for as long as a test needs.
    pub fn pause_transfers(&self) {
        self.state.lock().unwrap().transfers_paused = true;
    }

    pub fn resume_transfers(&self) {
        self.state.lock().unwrap().transfers_paused = false;
    }

    pub fn transfers(&self) -> Vec<Transfer> {
        self.state.lock().unwrap().transfers.clone()
    }

    pub fn replays(&self) -> usize {
        self.state.lock().unwrap().replays
    }

    pub fn account(&self, id: &str) -> Option<Value> {
        self.state.lock().unwrap().accounts.get(id).cloned()
    }

    pub fn account_ids(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .accounts
            .keys()
            .cloned()
            .collect()
    }

    /// Stripe finished onboarding (or still needs `currently_due`).
    pub fn set_account(&self, id: &str, payouts_enabled: bool, currently_due: &[&str]) {
        let mut state = self.state.lock().unwrap();
        let account = state.accounts.get_mut(id).expect("known account");
        account["payouts_enabled"] = json!(payouts_enabled);
        account["details_submitted"] = json!(payouts_enabled);
        account["requirements"] = json!({"currently_due": currently_due});
    }

    /// Adds an account directly, as if the org had onboarded earlier.
    pub fn add_ready_account(&self) -> String {
        let mut state = self.state.lock().unwrap();
        state.next_id += 1;
        let id = format!("acct_fake{}", state.next_id);
        state.accounts.insert(
            id.clone(),
            json!({"id": id, "object": "account", "type": "express", "payouts_enabled": true,
                   "details_submitted": true, "requirements": {"currently_due": []}, "metadata": {}}),
        );
        id
    }

    async fn answer(&self, req: HttpRequest, body: web::Bytes) -> HttpResponse {
        let authorised = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start_matches("Bearer ") == SECRET_KEY);
        while req.path() == "/v1/transfers" && self.state.lock().unwrap().transfers_paused {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let (status, value, hold) = if !authorised {
            let (s, v) = error(401, "invalid_request_error", "Invalid API Key provided.");
            (s, v, false)
        } else {
            self.handle(&req, &String::from_utf8_lossy(&body))
        };
        if hold {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("application/json")
            .body(value.to_string())
    }

    fn handle(&self, req: &HttpRequest, body: &str) -> (u16, Value, bool) {
        let mut state = self.state.lock().unwrap();
        let method = req.method().to_string();
        let path = req.path().to_string();
        let key = req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let fingerprint = format!("{method} {path} {body}");
        if let Some(key) = &key {
            if let Some((first, status, value)) = state.idempotent.get(key).cloned() {
                if first == fingerprint {
                    state.replays += 1;
                    return (status, value, false);
                }
                let (s, v) = error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                );
                return (s, v, false);
            }
        }
        if method == "POST" && !state.fail_next.is_empty() {
            let (status, message) = state.fail_next.remove(0);
            let kind = if status >= 500 {
                "api_error"
            } else {
                "invalid_request_error"
            };
            let (s, v) = error(status, kind, &message);
            return (s, v, false);
        }
        let params = form(body);
        let mut hold = false;
        let (status, value) = match (method.as_str(), path.as_str()) {
            ("POST", "/v1/accounts") => {
                state.next_id += 1;
                let id = format!("acct_fake{}", state.next_id);
                let metadata: HashMap<String, String> = params
                    .iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix("metadata[")
                            .and_then(|k| k.strip_suffix(']'))
                            .map(|k| (k.to_string(), v.clone()))
                    })
                    .collect();
                let account = json!({"id": id, "object": "account", "type": params.get("type"),
                    "email": params.get("email"), "payouts_enabled": false, "details_submitted": false,
                    "requirements": {"currently_due": ["external_account", "individual.dob.day"]},
                    "metadata": metadata});
                state.accounts.insert(id, account.clone());
                (200, account)
            }
            ("GET", p) if p.starts_with("/v1/accounts/") => {
                match state.accounts.get(p.trim_start_matches("/v1/accounts/")) {
                    Some(account) => (200, account.clone()),
                    None => error(404, "invalid_request_error", "No such account."),
                }
            }
            ("POST", "/v1/account_links") => {
                let account = params.get("account").cloned().unwrap_or_default();
                if !state.accounts.contains_key(&account) {
                    error(400, "invalid_request_error", "No such account.")
                } else {
                    (
                        200,
                        json!({"object": "account_link", "created": 1_700_000_000, "expires_at": 1_700_000_300,
                        "url": format!("{}onboarding/{account}", self.base)}),
                    )
                }
            }
            ("POST", "/v1/transfers") => {
                let destination = params.get("destination").cloned().unwrap_or_default();
                let amount: i64 = params
                    .get("amount")
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0);
                if !state.accounts.contains_key(&destination) {
                    error(400, "invalid_request_error", "No such destination account.")
                } else if amount <= 0 {
                    error(400, "invalid_request_error", "Amount must be positive.")
                } else {
                    state.next_id += 1;
                    let transfer = Transfer {
                        id: format!("tr_fake{}", state.next_id),
                        amount,
                        currency: params.get("currency").cloned().unwrap_or_default(),
                        destination,
                        transfer_group: params.get("transfer_group").cloned().unwrap_or_default(),
                        idempotency_key: key.clone(),
                    };
                    hold = state.hold_after == Some(0);
                    state.hold_after = match state.hold_after {
                        Some(0) | None => None,
                        Some(n) => Some(n - 1),
                    };
                    let value = json!({"id": transfer.id, "object": "transfer", "amount": transfer.amount,
                        "amount_reversed": 0, "created": 1_700_000_000, "currency": transfer.currency,
                        "destination": transfer.destination, "livemode": false, "metadata": {},
                        "reversals": {"object": "list", "data": [], "has_more": false,
                                      "url": format!("/v1/transfers/{}/reversals", transfer.id)},
                        "reversed": false, "transfer_group": transfer.transfer_group});
                    state.transfers.push(transfer);
                    (200, value)
                }
            }
            ("GET", "/v1/balance") => (
                200,
                json!({"object": "balance", "livemode": false,
                       "available": [{"amount": 10_000_000, "currency": "usd", "source_types": {}}],
                       "pending": [{"amount": 0, "currency": "usd", "source_types": {}}]}),
            ),
            _ => error(404, "invalid_request_error", "Unrecognized request URL."),
        };
        if let Some(key) = key {
            state
                .idempotent
                .insert(key, (fingerprint, status, value.clone()));
        }
        (status, value, hold)
    }
}

#[tokio::test]
async fn the_fake_replays_idempotent_requests_and_refuses_a_reused_key() {
    let fake = FakeStripe::start().await;
    let account = fake.add_ready_account();
    let client = reqwest::Client::new();
    let post = |key: &str, amount: &str| {
        client
            .post(format!("{}v1/transfers", fake.base))
            .header("authorization", format!("Bearer {SECRET_KEY}"))
            .header("idempotency-key", key)
            .form(&[
                ("amount", amount),
                ("currency", "usd"),
                ("destination", account.as_str()),
            ])
            .send()
    };
    let first: Value = post("k1", "500").await.unwrap().json().await.unwrap();
    let again: Value = post("k1", "500").await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!((fake.transfers().len(), fake.replays()), (1, 1));
    let other = post("k1", "600").await.unwrap();
    assert_eq!(other.status(), 400);
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["error"]["type"], "idempotency_error");
    fake.fail_next(1, 402, "Insufficient funds");
    assert_eq!(post("k2", "500").await.unwrap().status(), 402);
    assert_eq!(post("k2", "500").await.unwrap().status(), 200);
    let unauthorised = client
        .get(format!("{}v1/balance", fake.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
}
