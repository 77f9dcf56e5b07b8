//! The deals' SQL: registrations and their events, lists and the approval queue, conflict lookups, stages, extension
//! rows and the facts pipeline reports read. No English here beyond the audit labels; no emails.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::Viewer;
use crate::deals::pipeline::DealFacts;
use crate::deals::rules::{
    claims_customer, matched_fields, CustomerKeys, DealStatus, MatchedField,
};
use crate::domain::money::{Currency, Money};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{
    deal_events, deal_extensions, deal_stages, deals, direct_accounts, partner_orgs, tiers, users,
};
use crate::platform::db::{now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deals)]
pub struct Deal {
    pub id: i64,
    pub program_id: i64,
    pub partner_org_id: i64,
    pub registered_by_user_id: i64,
    pub customer_name: String,
    pub customer_key: String,
    pub customer_domain: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_title: String,
    pub country: String,
    pub amount_minor: i64,
    pub currency: String,
    pub expected_close_date: NaiveDate,
    pub products: String,
    pub description: String,
    pub custom_fields: String,
    pub justification: String,
    pub status: DealStatus,
    pub status_reason: Option<String>,
    pub stage_id: Option<i64>,
    pub submitted_at: NaiveDateTime,
    pub first_decided_at: Option<NaiveDateTime>,
    pub approved_at: Option<NaiveDateTime>,
    pub protection_until: Option<NaiveDateTime>,
    pub escalated_at: Option<NaiveDateTime>,
    pub expiry_warned_at: Option<NaiveDateTime>,
    pub won_amount_minor: Option<i64>,
    pub closed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The value of one custom field on one deal; the label is copied so it still reads after the field is removed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CustomValue {
    pub field_id: i64,
    pub label: String,
    pub value: String,
}

impl Deal {
    pub fn status(&self) -> DealStatus {
        self.status
    }

    pub fn currency(&self) -> Currency {
        Currency::parse(&self.currency).expect("checked on the way in")
    }

    pub fn amount(&self) -> Money {
        Money::new(self.amount_minor, self.currency())
    }

    pub fn won_amount(&self) -> Option<Money> {
        self.won_amount_minor
            .map(|m| Money::new(m, self.currency()))
    }

    pub fn product_list(&self) -> Vec<&str> {
        self.products.lines().filter(|l| !l.is_empty()).collect()
    }

    pub fn custom_values(&self) -> Vec<CustomValue> {
        serde_json::from_str(&self.custom_fields).unwrap_or_default()
    }

    pub fn keys(&self) -> CustomerKeys {
        CustomerKeys {
            company_key: self.customer_key.clone(),
            domain: self.customer_domain.clone(),
        }
    }

    pub fn title(&self) -> String {
        format!("#{} {}", self.id, self.customer_name)
    }
}

/// What the partner registers (or corrects when asked for more information).
#[derive(Debug, Clone)]
pub struct Registration {
    pub customer_name: String,
    pub customer_domain: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_title: String,
    pub country: String,
    pub amount: Money,
    pub expected_close_date: NaiveDate,
    pub products: Vec<String>,
    pub description: String,
    pub custom_values: Vec<CustomValue>,
    pub justification: String,
}

pub fn event(
    conn: &mut DbConn,
    deal_id: i64,
    actor: &Actor,
    kind: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(deal_events::table)
        .values((
            deal_events::deal_id.eq(deal_id),
            deal_events::actor_user_id.eq(actor.user_id),
            deal_events::actor_label.eq(&actor.label),
            deal_events::kind.eq(kind),
            deal_events::detail.eq(detail),
            deal_events::created_at.eq(now()),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deal_events)]
pub struct DealEvent {
    pub id: i64,
    pub deal_id: i64,
    pub actor_user_id: Option<i64>,
    pub actor_label: String,
    pub kind: String,
    pub detail: String,
    pub created_at: NaiveDateTime,
}

pub fn events(conn: &mut DbConn, deal_id: i64) -> QueryResult<Vec<DealEvent>> {
    deal_events::table
        .filter(deal_events::deal_id.eq(deal_id))
        .order(deal_events::id)
        .select(DealEvent::as_select())
        .load(conn)
}

pub(crate) fn record(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    deal: &Deal,
    change: &Change<'_>,
) -> QueryResult<()> {
    let label = deal.title();
    audit::record(
        conn,
        actor,
        action,
        &Subject {
            kind: "deal",
            id: Some(deal.id),
            label: &label,
        },
        change,
    )
}

/// A deal of the program, or `None`.
pub fn find(conn: &mut DbConn, program_id: i64, id: i64) -> QueryResult<Option<Deal>> {
    deals::table
        .filter(deals::program_id.eq(program_id))
        .filter(deals::id.eq(id))
        .select(Deal::as_select())
        .first(conn)
        .optional()
}

/// A deal the viewer may see, or `None`: another org's deal is as good as absent.
pub fn find_for(conn: &mut DbConn, viewer: &Viewer, id: i64) -> QueryResult<Option<Deal>> {
    Ok(deals::table
        .filter(deals::id.eq(id))
        .filter(deals::partner_org_id.eq(viewer.org_id))
        .select(Deal::as_select())
        .first(conn)
        .optional()?
        .filter(|deal| viewer.may_see(deal)))
}

/// One line of a deal list.
#[derive(Debug, Clone)]
pub struct DealRow {
    pub deal: Deal,
    pub partner_name: String,
    pub owner_email: String,
    pub owner_name: String,
    pub stage_name: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DealFilter {
    pub org_id: Option<i64>,
    pub owner_user_id: Option<i64>,
    pub status: Option<DealStatus>,
    pub stage_id: Option<i64>,
    /// Expected close within `[from, to)`.
    pub close_between: Option<(NaiveDate, NaiveDate)>,
}

/// Deals matching `filter`, newest first, in `window`.
pub fn list(
    conn: &mut DbConn,
    program_id: i64,
    filter: &DealFilter,
    window: crate::platform::db::Window,
) -> QueryResult<Vec<DealRow>> {
    let mut query = deals::table
        .inner_join(partner_orgs::table)
        .inner_join(users::table.on(users::id.eq(deals::registered_by_user_id)))
        .left_join(deal_stages::table)
        .filter(deals::program_id.eq(program_id))
        .into_boxed();
    if let Some(org_id) = filter.org_id {
        query = query.filter(deals::partner_org_id.eq(org_id));
    }
    if let Some(owner) = filter.owner_user_id {
        query = query.filter(deals::registered_by_user_id.eq(owner));
    }
    if let Some(status) = filter.status {
        query = query.filter(deals::status.eq(status));
    }
    if let Some(stage_id) = filter.stage_id {
        query = query.filter(deals::stage_id.eq(stage_id));
    }
    if let Some((from, to)) = filter.close_between {
        query = query
            .filter(deals::expected_close_date.ge(from))
            .filter(deals::expected_close_date.lt(to));
    }
    query
        .order((deals::created_at.desc(), deals::id.desc()))
        .offset(window.offset)
        .limit(window.limit)
        .select((
            Deal::as_select(),
            partner_orgs::name,
            users::email,
            users::display_name,
            deal_stages::name.nullable(),
        ))
        .load::<(Deal, String, String, String, Option<String>)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(
                    |(deal, partner_name, owner_email, owner_name, stage_name)| DealRow {
                        deal,
                        partner_name,
                        owner_name: if owner_name.is_empty() {
                            owner_email.clone()
                        } else {
                            owner_name
                        },
                        owner_email,
                        stage_name,
                    },
                )
                .collect()
        })
}

/// Registrations waiting for a decision, oldest submission (so the most urgent SLA clock) first.
pub fn queue(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<DealRow>> {
    let mut rows = list(
        conn,
        program_id,
        &DealFilter {
            status: Some(DealStatus::Submitted),
            ..Default::default()
        },
        crate::platform::db::Window::ALL,
    )?;
    rows.sort_by_key(|r| (r.deal.submitted_at, r.deal.id));
    Ok(rows)
}

/// Another registration or a direct account that claims the same customer.
#[derive(Debug, Clone)]
pub struct ConflictMatch {
    pub fields: Vec<MatchedField>,
    pub found: ConflictWith,
}

#[derive(Debug, Clone)]
pub enum ConflictWith {
    Deal {
        deal: Box<Deal>,
        partner_name: String,
        stage_name: Option<String>,
    },
    DirectAccount {
        company_name: String,
        domain: String,
        owner: String,
        since: NaiveDateTime,
    },
}

impl ConflictMatch {
    pub fn fields_text(&self) -> String {
        self.fields
            .iter()
            .map(|f| f.label())
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// Open or protected registrations of other partners, and direct accounts, that match the customer.
pub fn conflicts(
    conn: &mut DbConn,
    program_id: i64,
    own_org_id: i64,
    keys: &CustomerKeys,
    at: NaiveDateTime,
) -> QueryResult<Vec<ConflictMatch>> {
    if keys.company_key.is_empty() && keys.domain.is_empty() {
        return Ok(Vec::new());
    }
    // The keys are compared for equality so the indexes serve; an empty domain must not match every empty domain,
    // so it becomes a value no normalised domain takes (PostgreSQL text cannot hold NUL).
    let domain = if keys.domain.is_empty() {
        " ".to_string()
    } else {
        keys.domain.clone()
    };
    let claiming: Vec<&str> = DealStatus::CLAIMING.iter().map(|s| s.as_str()).collect();
    let found = deals::table
        .inner_join(partner_orgs::table)
        .left_join(deal_stages::table)
        .filter(deals::program_id.eq(program_id))
        .filter(deals::partner_org_id.ne(own_org_id))
        .filter(deals::status.eq_any(claiming))
        .filter(
            deals::customer_domain
                .eq(&domain)
                .or(deals::customer_key.eq(&keys.company_key)),
        )
        .order(deals::created_at)
        .select((
            Deal::as_select(),
            partner_orgs::name,
            deal_stages::name.nullable(),
        ))
        .load::<(Deal, String, Option<String>)>(conn)?;
    let mut matches: Vec<ConflictMatch> = found
        .into_iter()
        .filter(|(deal, _, _)| claims_customer(deal.status(), deal.protection_until, at))
        .map(|(deal, partner_name, stage_name)| ConflictMatch {
            fields: matched_fields(keys, &deal.keys()),
            found: ConflictWith::Deal {
                deal: Box::new(deal),
                partner_name,
                stage_name,
            },
        })
        .collect();
    let accounts = direct_accounts::table
        .filter(direct_accounts::program_id.eq(program_id))
        .filter(
            direct_accounts::domain
                .eq(&domain)
                .or(direct_accounts::company_key.eq(&keys.company_key)),
        )
        .order(direct_accounts::id)
        .select((
            direct_accounts::company_name,
            direct_accounts::company_key,
            direct_accounts::domain,
            direct_accounts::account_owner,
            direct_accounts::created_at,
        ))
        .load::<(String, String, String, String, NaiveDateTime)>(conn)?;
    for (company_name, company_key, account_domain, owner, since) in accounts {
        let theirs = CustomerKeys {
            company_key,
            domain: account_domain.clone(),
        };
        matches.push(ConflictMatch {
            fields: matched_fields(keys, &theirs),
            found: ConflictWith::DirectAccount {
                company_name,
                domain: account_domain,
                owner,
                since,
            },
        });
    }
    matches.retain(|m| !m.fields.is_empty());
    Ok(matches)
}

/// The program's first open stage: where an approved deal starts.
pub(crate) fn first_stage(conn: &mut DbConn, program_id: i64) -> QueryResult<Option<i64>> {
    Ok(super::config::stages(conn, program_id)?
        .first()
        .map(|s| s.id))
}

/// The columns a registration (or its correction) writes, in one place for the insert and the update.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = deals)]
pub(crate) struct RegistrationColumns<'a> {
    customer_name: &'a str,
    customer_key: &'a str,
    customer_domain: &'a str,
    contact_name: &'a str,
    contact_email: &'a str,
    contact_title: &'a str,
    country: &'a str,
    amount_minor: i64,
    currency: &'a str,
    expected_close_date: NaiveDate,
    products: String,
    description: &'a str,
    custom_fields: String,
    justification: &'a str,
}

impl<'a> RegistrationColumns<'a> {
    pub(crate) fn of(registration: &'a Registration, keys: &'a CustomerKeys) -> Self {
        Self {
            customer_name: &registration.customer_name,
            customer_key: &keys.company_key,
            customer_domain: &keys.domain,
            contact_name: &registration.contact_name,
            contact_email: &registration.contact_email,
            contact_title: &registration.contact_title,
            country: &registration.country,
            amount_minor: registration.amount.minor,
            currency: registration.amount.currency.code(),
            expected_close_date: registration.expected_close_date,
            products: registration.products.join("\n"),
            description: &registration.description,
            custom_fields: serde_json::to_string(&registration.custom_values)
                .expect("plain strings serialise"),
            justification: &registration.justification,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deal_extensions)]
pub struct Extension {
    pub id: i64,
    pub deal_id: i64,
    pub justification: String,
    pub requested_by_user_id: i64,
    pub requested_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    pub granted_days: Option<i64>,
    pub refusal_reason: Option<String>,
}

pub fn extension(conn: &mut DbConn, deal_id: i64) -> QueryResult<Option<Extension>> {
    deal_extensions::table
        .filter(deal_extensions::deal_id.eq(deal_id))
        .select(Extension::as_select())
        .first(conn)
        .optional()
}

/// Extension requests waiting for an answer, for the admin queue.
pub fn pending_extensions(
    conn: &mut DbConn,
    program_id: i64,
) -> QueryResult<Vec<(Extension, Deal)>> {
    deal_extensions::table
        .inner_join(deals::table)
        .filter(deals::program_id.eq(program_id))
        .filter(deal_extensions::decided_at.is_null())
        .order(deal_extensions::requested_at)
        .select((Extension::as_select(), Deal::as_select()))
        .load(conn)
}

/// The facts the pipeline report needs, in the given currency; also how many deals in other currencies were left
/// out. `org_id` limits them to one partner.
pub fn facts(
    conn: &mut DbConn,
    program_id: i64,
    currency: &str,
    viewer: Option<&Viewer>,
) -> QueryResult<(Vec<DealFacts>, i64)> {
    let mut query = deals::table
        .inner_join(partner_orgs::table.left_join(tiers::table))
        .left_join(deal_stages::table)
        .filter(deals::program_id.eq(program_id))
        .into_boxed();
    // A partner's own figures cover exactly the deals its viewer may see (a rep's own, when reps see only theirs).
    if let Some(scope) = viewer.map(Viewer::filter) {
        if let Some(org_id) = scope.org_id {
            query = query.filter(deals::partner_org_id.eq(org_id));
        }
        if let Some(owner) = scope.owner_user_id {
            query = query.filter(deals::registered_by_user_id.eq(owner));
        }
    }
    let rows = query
        .select((
            Deal::as_select(),
            partner_orgs::name,
            tiers::name.nullable(),
            deal_stages::position.nullable(),
            deal_stages::name.nullable(),
            deal_stages::probability_percent.nullable(),
        ))
        .load::<(
            Deal,
            String,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
        )>(conn)?;
    let mut other_currencies = 0;
    let mut facts = Vec::new();
    for (deal, partner_name, tier_name, position, stage_name, probability) in rows {
        if deal.currency != currency {
            other_currencies += 1;
            continue;
        }
        facts.push(DealFacts {
            partner_org_id: deal.partner_org_id,
            partner_name,
            tier_name,
            status: deal.status(),
            stage: position.zip(stage_name),
            probability_percent: probability.unwrap_or(0),
            amount_minor: deal.amount_minor,
            won_amount_minor: deal.won_amount_minor,
            expected_close: deal.expected_close_date,
            closed_at: deal.closed_at,
            first_submitted_at: deal.created_at,
            first_decided_at: deal.first_decided_at,
            approved_at: deal.approved_at,
        });
    }
    Ok((facts, other_currencies))
}

/// Confirmed wins of an org since `since` in one currency: (count, won amount), for tier placement.
pub fn won_since(
    conn: &mut DbConn,
    org_id: i64,
    currency: &str,
    since: NaiveDateTime,
) -> QueryResult<(i64, i64)> {
    let amounts: Vec<Option<i64>> = deals::table
        .filter(deals::partner_org_id.eq(org_id))
        .filter(deals::status.eq(DealStatus::Won))
        .filter(deals::currency.eq(currency))
        .filter(deals::closed_at.ge(since))
        .select(deals::won_amount_minor)
        .load(conn)?;
    Ok((
        amounts.len() as i64,
        crate::domain::money::sum_minor(amounts.iter().map(|a| a.unwrap_or(0))),
    ))
}

/// Whether the user holds a certification valid at `at`, for programs that require one before registering.
pub fn user_is_certified(conn: &mut DbConn, user_id: i64, at: NaiveDateTime) -> QueryResult<bool> {
    use crate::platform::db::schema::certifications;
    diesel::select(diesel::dsl::exists(
        certifications::table
            .filter(certifications::user_id.eq(user_id))
            .filter(certifications::expires_at.gt(at)),
    ))
    .get_result(conn)
}
