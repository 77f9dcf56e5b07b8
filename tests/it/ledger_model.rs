//! The ledger's invariants under a randomised interleaving (issue 19). Six tasks, each with its own signed-in
//! admin, drive one small program over real HTTP at the same time: sales by coupon, partial, full and repeated
//! refunds, hold releases, voids by hand, and payout batches on both rails (started, paid, cancelled, and Stripe
//! transfers the fake refuses). The test keeps its own model of what was sold, refunded and voided; at the end the
//! database's sums must agree with the model and with each other (`domain::ledger` states the invariants).
//!
//! The run is seeded: `CONCORD_LEDGER_SEED=<n>` replays one; a failure prints its seed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::harness::{Browser, TestApp, PASSWORD};
use crate::payouts::{app_with, connect_ready};
use crate::stripe_fake::FakeStripe;
use concord::accounts::role::Role;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::json;

const TASKS: usize = 6;
const STEPS: usize = 60;
const ORGS: usize = 4;
/// The program's one rule: 20% of every sale.
const RATE_BPS: i64 = 2_000;

#[derive(Debug, Clone)]
struct Sale {
    org: usize,
    amount: i64,
    /// Refunds the API recorded (201), by refund id.
    refunds: HashMap<String, i64>,
    /// An admin voided its commission by hand (the page said so).
    voided_by_hand: bool,
}

#[derive(Default)]
struct Model {
    sales: HashMap<String, Sale>,
    /// Manual batches started and not yet paid or cancelled, by their page.
    open_manual_runs: Vec<String>,
    /// Every status an operation was answered with, to find any 5xx.
    statuses: Vec<(String, StatusCode)>,
}

/// Half-up rounding of `amount * part / whole`, as the ledger promises it (written here again, not borrowed).
fn share(amount: i64, part: i64, whole: i64) -> i64 {
    let (amount, part, whole) = (amount as i128, part as i128, whole as i128);
    ((2 * amount * part + whole) / (2 * whole)) as i64
}

fn commission_of(amount: i64) -> i64 {
    share(amount, RATE_BPS, 10_000)
}

struct World {
    app: TestApp,
    fake: FakeStripe,
    key: String,
    orgs: Vec<i64>,
    model: Mutex<Model>,
}

impl World {
    fn record(&self, what: &str, status: StatusCode) {
        self.model
            .lock()
            .unwrap()
            .statuses
            .push((what.to_string(), status));
    }

    async fn post_api(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.app.address))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or_default())
    }

    async fn sale(&self, rng: &mut StdRng, id: String) {
        let org = rng.random_range(0..ORGS);
        let amount = rng.random_range(1..200_000i64);
        let (status, body) = self
            .post_api(
                "/api/v1/conversions",
                json!({"external_id": id, "kind": "sale", "amount": amount, "currency": "USD", "coupon": format!("C{org}")}),
            )
            .await;
        self.record("sale", status);
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(
            body["conversion"]["commission"]["amount"],
            commission_of(amount)
        );
        self.model.lock().unwrap().sales.insert(
            id,
            Sale {
                org,
                amount,
                refunds: HashMap::new(),
                voided_by_hand: false,
            },
        );
    }

    fn pick_sale(&self, rng: &mut StdRng) -> Option<(String, Sale)> {
        let model = self.model.lock().unwrap();
        if model.sales.is_empty() {
            return None;
        }
        let mut ids: Vec<&String> = model.sales.keys().collect();
        ids.sort();
        let id = ids[rng.random_range(0..ids.len())].clone();
        Some((id.clone(), model.sales[&id].clone()))
    }

    async fn refund(&self, rng: &mut StdRng, refund_id: String) {
        let Some((sale_id, sale)) = self.pick_sale(rng) else {
            return;
        };
        // Now and then the merchant sends a refund it sent before: recorded once.
        let repeat = sale.refunds.iter().next().filter(|_| rng.random_bool(0.15));
        let (refund_id, amount) = match repeat {
            Some((id, amount)) => (id.clone(), Some(*amount)),
            None => {
                let amount = match rng.random_range(0..3) {
                    0 => None,
                    1 => Some(rng.random_range(1..=sale.amount)),
                    _ => Some(rng.random_range(1..=(sale.amount / 3).max(1))),
                };
                (refund_id, amount)
            }
        };
        let mut body = json!({"refund_id": refund_id, "external_id": sale_id});
        if let Some(amount) = amount {
            body["amount"] = json!(amount);
        }
        let (status, answer) = self.post_api("/api/v1/refunds", body).await;
        self.record("refund", status);
        match status {
            StatusCode::CREATED => {
                let recorded = answer["refund"]["amount"].as_i64().unwrap();
                let mut model = self.model.lock().unwrap();
                let sale = model.sales.get_mut(&sale_id).unwrap();
                assert!(sale.refunds.insert(refund_id, recorded).is_none());
            }
            StatusCode::OK => {
                assert_eq!(repeat.map(|(_, a)| *a), answer["refund"]["amount"].as_i64());
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!(answer["error"]["field"], "amount", "{answer}");
            }
            other => panic!("refund answered {other}: {answer}"),
        }
    }

    async fn void_by_hand(&self, rng: &mut StdRng, admin: &Browser) {
        let Some((sale_id, _)) = self.pick_sale(rng) else {
            return;
        };
        let lookup = sale_id.clone();
        let entry: i64 = self
            .app
            .db(move |conn| {
                use concord::platform::db::schema::{conversions, ledger_entries};
                ledger_entries::table
                    .inner_join(
                        conversions::table
                            .on(ledger_entries::conversion_id.eq(conversions::id.nullable())),
                    )
                    .filter(conversions::external_id.eq(lookup))
                    .filter(ledger_entries::kind.eq("commission"))
                    .select(ledger_entries::id)
                    .first(conn)
                    .unwrap()
            })
            .await;
        let entry = entry.to_string();
        let page = admin
            .submit(
                "/admin/commissions",
                "/admin/commissions",
                &[
                    ("entry", entry.as_str()),
                    ("action", "void"),
                    ("reason", "Test: a void by hand"),
                    ("status", ""),
                ],
            )
            .await;
        self.record("void", page.status);
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let flash = admin.get("/admin/commissions").await.body;
        let start = flash.find("flash success").expect("the outcome is flashed");
        let text = &flash[start..];
        let text = &text[text.find('>').unwrap() + 1..];
        let voided: usize = text
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{text}"));
        if voided > 0 {
            let mut model = self.model.lock().unwrap();
            model.sales.get_mut(&sale_id).unwrap().voided_by_hand = true;
        }
    }

    async fn batch(&self, rng: &mut StdRng, admin: &Browser) {
        let open = {
            let mut model = self.model.lock().unwrap();
            (!model.open_manual_runs.is_empty() && rng.random_bool(0.7))
                .then(|| model.open_manual_runs.remove(0))
        };
        if let Some(run_page) = open {
            let action = if rng.random_bool(0.7) {
                "paid"
            } else {
                "cancel"
            };
            let page = admin
                .submit(
                    &run_page,
                    &format!("{run_page}/settle"),
                    &[("action", action), ("reference", "TEST-REF")],
                )
                .await;
            self.record("settle", page.status);
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
            return;
        }
        let stripe = rng.random_bool(0.5);
        if stripe && rng.random_bool(0.4) {
            // Stripe refuses the next transfer for good: that payout fails and its balance is back.
            self.fake
                .fail_next(1, 402, "Insufficient funds in the platform balance.");
        }
        let page = crate::payouts::start(admin, if stripe { "stripe" } else { "manual" }).await;
        self.record("batch", page.status);
        match page.status {
            StatusCode::SEE_OTHER if !stripe => {
                let location = page.location.unwrap();
                self.model.lock().unwrap().open_manual_runs.push(location);
            }
            StatusCode::SEE_OTHER => {}
            // Another batch is running, or no balance qualifies.
            StatusCode::CONFLICT | StatusCode::BAD_REQUEST => {}
            other => panic!("starting a batch answered {other}: {}", page.body),
        }
    }
}

async fn world() -> World {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake).await;
    app.affiliate_program(true, |s| s.hold_days = 0).await;
    crate::commissions::sales_rule(&app, RATE_BPS).await;
    let mut orgs = Vec::new();
    for n in 0..ORGS {
        let org = app
            .create_partner(
                &format!("Affiliate {n}"),
                PartnerKind::Affiliate,
                PartnerStatus::Approved,
            )
            .await;
        // Half of the orgs are paid through Stripe, the other half by hand.
        let account = (n % 2 == 0).then(|| fake.add_ready_account());
        crate::fixtures::coupon(&app, org, &format!("C{n}")).await;
        if let Some(account) = account {
            app.db(move |conn| connect_ready(conn, org, &account)).await;
        }
        orgs.push(org);
    }
    // Every positive balance is paid, so batches take whatever the tasks left.
    app.db(|conn| {
        use concord::platform::db::schema::programs;
        diesel::update(programs::table)
            .set(programs::payout_minimum_minor.eq(1))
            .execute(conn)
            .unwrap();
    })
    .await;
    let key = app.api_key().await;
    World {
        app,
        fake,
        key,
        orgs,
        model: Mutex::new(Model::default()),
    }
}

async fn run_task(world: Arc<World>, seed: u64, task: usize) {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(task as u64));
    let email = format!("admin{task}@example.test");
    world.app.create_user(&email, Role::Admin, None).await;
    let admin = world.app.browser();
    admin
        .login(&email, PASSWORD)
        .await
        .assert_redirect("/admin");
    for step in 0..STEPS {
        match rng.random_range(0..100) {
            0..35 => world.sale(&mut rng, format!("t{task}-s{step}")).await,
            35..65 => world.refund(&mut rng, format!("t{task}-r{step}")).await,
            65..73 => {
                world.app.run_job("hold_release").await;
            }
            73..80 => world.void_by_hand(&mut rng, &admin).await,
            _ => world.batch(&mut rng, &admin).await,
        }
    }
}

/// Lets every batch end: Stripe batches finish (refusals are over), open manual batches are paid.
async fn finish_batches(world: &World) {
    let admin = world.app.browser();
    world
        .app
        .create_user("closer@example.test", Role::Admin, None)
        .await;
    admin.login("closer@example.test", PASSWORD).await;
    for _ in 0..200 {
        let running: Vec<(i64, String)> = world
            .app
            .db(|conn| {
                use concord::platform::db::schema::payout_runs;
                payout_runs::table
                    .filter(payout_runs::status.eq("running"))
                    .select((payout_runs::id, payout_runs::rail))
                    .load(conn)
                    .unwrap()
            })
            .await;
        let Some((id, rail)) = running.first().cloned() else {
            return;
        };
        let page = format!("/admin/payouts/runs/{id}");
        if rail == "manual" {
            admin
                .submit(
                    &page,
                    &format!("{page}/settle"),
                    &[("action", "paid"), ("reference", "END")],
                )
                .await
                .assert_redirect(&page);
        } else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    panic!("the batches did not finish");
}

#[derive(Debug, Queryable)]
struct Entry {
    id: i64,
    org: i64,
    kind: String,
    status: String,
    amount: i64,
    source_type: String,
    source_id: i64,
}

#[tokio::test]
async fn the_ledger_invariants_hold_under_a_random_interleaving_of_money_operations() {
    let seed: u64 = std::env::var("CONCORD_LEDGER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("ledger model seed: {seed} (CONCORD_LEDGER_SEED={seed} replays it)");
    let world = Arc::new(world().await);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| tokio::spawn(run_task(world.clone(), seed, task)))
        .collect();
    for task in tasks {
        if let Err(e) = task.await {
            panic!("seed {seed}: a task failed: {e}");
        }
    }
    finish_batches(&world).await;
    world.app.run_job("hold_release").await;
    check(&world, seed).await;
}

async fn check(world: &World, seed: u64) {
    // Every task has ended: the model is read as it stands, without its lock.
    let model = std::mem::take(&mut *world.model.lock().unwrap());
    let fails = |what: String| format!("seed {seed}: {what}");
    let errors: Vec<_> = model
        .statuses
        .iter()
        .filter(|(_, s)| s.is_server_error())
        .collect();
    assert!(
        errors.is_empty(),
        "{}",
        fails(format!("answered 5xx: {errors:?}"))
    );

    type Db = (
        Vec<(String, i64, i64)>,
        Vec<Entry>,
        Vec<(i64, i64, i64, String, String, Option<i64>)>,
        Vec<(i64, i64)>,
    );
    let (refunds, entries, payouts, held): Db = world
        .app
        .db(|conn| {
            use concord::platform::db::schema::{
                conversions, ledger_entries as l, payout_entries, payouts, refunds,
            };
            (
                refunds::table
                    .inner_join(conversions::table)
                    .select((
                        conversions::external_id,
                        conversions::amount_minor,
                        refunds::amount_minor,
                    ))
                    .load(conn)
                    .unwrap(),
                l::table
                    .order(l::id)
                    .select((
                        l::id,
                        l::partner_org_id,
                        l::kind,
                        l::status,
                        l::amount_minor,
                        l::source_type,
                        l::source_id,
                    ))
                    .load(conn)
                    .unwrap(),
                payouts::table
                    .select((
                        payouts::id,
                        payouts::partner_org_id,
                        payouts::amount_minor,
                        payouts::status,
                        payouts::rail,
                        payouts::ledger_entry_id,
                    ))
                    .load(conn)
                    .unwrap(),
                payout_entries::table
                    .select((payout_entries::payout_id, payout_entries::ledger_entry_id))
                    .load(conn)
                    .unwrap(),
            )
        })
        .await;

    // 1. Refunds never exceed their sale, and each refund id counts once: the database holds exactly the model's.
    let mut refunded: HashMap<String, (i64, i64, usize)> = HashMap::new();
    for (sale, amount, refund) in &refunds {
        let total = refunded.entry(sale.clone()).or_insert((*amount, 0, 0));
        total.1 += refund;
        total.2 += 1;
    }
    for (sale, (amount, total, count)) in &refunded {
        assert!(
            total <= amount,
            "{}",
            fails(format!("{sale}: refunds {total} exceed the sale {amount}"))
        );
        let modelled = &model.sales[sale].refunds;
        assert_eq!(
            (*total, *count),
            (modelled.values().sum::<i64>(), modelled.len()),
            "{}",
            fails(format!("{sale}: refunds differ from the model"))
        );
    }
    assert_eq!(
        refunded.len(),
        model
            .sales
            .values()
            .filter(|s| !s.refunds.is_empty())
            .count(),
        "{}",
        fails("refunded sales".into())
    );

    // 2. What each org's entries net is what the model says it earned: commission less the refunded share,
    //    nothing for a sale voided by hand.
    for (n, org) in world.orgs.iter().enumerate() {
        let expected: i64 = model
            .sales
            .values()
            .filter(|s| s.org == n && !s.voided_by_hand)
            .map(|s| {
                let commission = commission_of(s.amount);
                let refunded: i64 = s.refunds.values().sum();
                commission - share(commission, refunded, s.amount)
            })
            .sum();
        let nets: i64 = entries
            .iter()
            .filter(|e| e.org == *org && e.status != "void" && e.kind != "payout")
            .map(|e| e.amount)
            .sum();
        assert_eq!(
            nets,
            expected,
            "{}",
            fails(format!(
                "org {org}: the ledger nets {nets}, the model {expected}"
            ))
        );
    }

    // 3. At most one entry per source and kind: a refund reverses once, a payout is written once.
    let mut sources: HashMap<(&str, i64, &str), usize> = HashMap::new();
    for e in &entries {
        *sources
            .entry((e.source_type.as_str(), e.source_id, e.kind.as_str()))
            .or_default() += 1;
    }
    assert!(
        sources.values().all(|n| *n == 1),
        "{}",
        fails("an entry was written twice".into())
    );

    // 4. Payouts: none left in flight; each paid one paid exactly its entries, all paid, none void, none in
    //    another paid payout; each failed or cancelled one gave its balance back.
    let status_of: HashMap<i64, &Entry> = entries.iter().map(|e| (e.id, e)).collect();
    let mut paid_in: HashMap<i64, usize> = HashMap::new();
    let mut paid_by_org: HashMap<i64, i64> = HashMap::new();
    let mut stripe_paid = (0, 0);
    for (id, org, amount, status, rail, own_entry) in &payouts {
        let own = status_of[&own_entry.expect("a payout has its ledger entry")];
        let settled: Vec<&Entry> = held
            .iter()
            .filter(|(payout, _)| payout == id)
            .map(|(_, entry)| status_of[entry])
            .collect();
        match status.as_str() {
            "paid" => {
                assert_eq!(own.amount, -amount);
                assert_eq!(
                    own.status.as_str(),
                    "paid",
                    "{}",
                    fails(format!("payout {id}'s own entry"))
                );
                assert_eq!(
                    settled.iter().map(|e| e.amount).sum::<i64>(),
                    *amount,
                    "{}",
                    fails(format!("payout {id} pays its entries"))
                );
                for e in &settled {
                    assert_eq!(
                        e.status.as_str(),
                        "paid",
                        "{}",
                        fails(format!("entry {} of paid payout {id}: {e:?}", e.id))
                    );
                    *paid_in.entry(e.id).or_default() += 1;
                }
                *paid_by_org.entry(*org).or_default() += amount;
                if rail == "stripe" {
                    stripe_paid.0 += 1;
                    stripe_paid.1 += amount;
                }
            }
            "failed" | "cancelled" => {
                assert_eq!(
                    own.status.as_str(),
                    "void",
                    "{}",
                    fails(format!("{status} payout {id} gives the balance back"))
                );
            }
            other => panic!("{}", fails(format!("payout {id} is still {other}"))),
        }
    }
    assert!(
        paid_in.values().all(|n| *n == 1),
        "{}",
        fails("an entry was paid twice".into())
    );
    for org in &world.orgs {
        let settled: i64 = entries
            .iter()
            .filter(|e| e.org == *org && e.status == "paid" && e.kind != "payout")
            .map(|e| e.amount)
            .sum();
        assert_eq!(
            settled,
            paid_by_org.get(org).copied().unwrap_or(0),
            "{}",
            fails(format!("org {org}: entries paid and payouts paid differ"))
        );
        // 5. The balance the API shows is the sum of the entries.
        let balance = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/partners/{org}/balance",
                world.app.address
            ))
            .bearer_auth(&world.key)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        let sum = |status: &str| -> i64 {
            entries
                .iter()
                .filter(|e| {
                    e.org == *org && e.status == status && !(status == "paid" && e.kind == "payout")
                })
                .map(|e| e.amount)
                .sum()
        };
        if let Some(b) = balance["balances"].as_array().and_then(|b| b.first()) {
            assert_eq!(
                (
                    b["pending"].as_i64(),
                    b["approved"].as_i64(),
                    b["paid"].as_i64()
                ),
                (
                    Some(sum("pending")),
                    Some(sum("approved")),
                    Some(sum("paid"))
                ),
                "{}",
                fails(format!("org {org}: balance API"))
            );
        }
    }

    // 6. Stripe moved exactly what the paid Stripe payouts say, once each.
    let transfers = world.fake.transfers();
    assert_eq!(
        (
            transfers.len(),
            transfers.iter().map(|t| t.amount).sum::<i64>()
        ),
        stripe_paid,
        "{}",
        fails("Stripe transfers and paid Stripe payouts differ".into())
    );
    eprintln!(
        "ledger model: {} sales, {} refunds, {} payouts ({} paid), {} entries",
        model.sales.len(),
        refunds.len(),
        payouts.len(),
        payouts.iter().filter(|p| p.3 == "paid").count(),
        entries.len()
    );
}
