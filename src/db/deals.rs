//! Deal registrations: registering (with conflict lookup and the optional auto-approval), the approver's
//! decisions, the partner's progress (stage, amount, close date, won, lost), the vendor's win confirmation (which
//! writes the margin to the ledger), protection extensions, the expiry and escalation jobs, and the timeline.
//! Every state change is one transaction guarded on the status it read, so two people acting at once change a
//! deal once, and every change leaves a deal event.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::domain::deal::{
    claims_customer, expiry_step, matched_fields, CustomerKeys, DealDecision, DealStatus,
    ExpiryStep, MatchedField, SlaClock,
};
use crate::domain::money::{Currency, Money};
use crate::domain::pipeline::DealFacts;
use crate::ledger::rules::{EntryKind, EntryStatus};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{
    deal_events, deal_extensions, deal_stages, deals, direct_accounts, partner_orgs, tiers, users,
};
use crate::platform::db::{is_unique_violation, now, DbConn, Lock};
use crate::platform::mail::NotifyError;
use crate::programs::Program;

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
    pub status: String,
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
        self.status.parse().expect("written from DealStatus")
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

#[derive(Debug, thiserror::Error)]
pub enum DealError {
    #[error("No such deal.")]
    NotFound,
    /// Understood and refused; the text is for the person who asked.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

impl crate::platform::db::DatabaseFailure for DealError {
    fn database_error(&self) -> Option<&diesel::result::Error> {
        match self {
            DealError::Database(e) | DealError::Notify(NotifyError::Database(e)) => Some(e),
            _ => None,
        }
    }
}

impl From<DealError> for crate::platform::http::AppError {
    fn from(error: DealError) -> Self {
        match error {
            DealError::NotFound => Self::NotFound,
            DealError::Refused(message) => Self::BadRequest(message),
            DealError::Database(e) => e.into(),
            DealError::Notify(e) => e.into(),
        }
    }
}

/// What happened to a deal, for the email to its partner.
#[derive(Debug, Clone)]
pub enum DealNotice {
    Decided {
        decision: DealDecision,
        reason: String,
        automatic: bool,
    },
    ExpiringSoon,
    Expired,
    ExtensionGranted {
        days: i64,
    },
    ExtensionRefused {
        reason: String,
    },
    WinConfirmed {
        margin: String,
    },
    WinSentBack {
        reason: String,
    },
}

/// Writes a deal's notification inside the transaction of the change.
pub type DealNotifier<'a> = &'a dyn Fn(&mut DbConn, &Deal, &DealNotice) -> Result<(), NotifyError>;

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

fn record(
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

/// Which deals of its org a partner user may see: a partner admin all, a rep their own (and, when the program
/// says so, their org's).
/// Reps change only their own deals; partner admins every deal of their org.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub org_id: i64,
    pub user_id: i64,
    pub manages_org: bool,
    /// The program lets reps see their colleagues' deals.
    pub reps_see_org: bool,
}

impl Viewer {
    pub fn may_see(&self, deal: &Deal) -> bool {
        deal.partner_org_id == self.org_id
            && (self.manages_org || self.reps_see_org || deal.registered_by_user_id == self.user_id)
    }

    pub fn may_change(&self, deal: &Deal) -> bool {
        deal.partner_org_id == self.org_id
            && (self.manages_org || deal.registered_by_user_id == self.user_id)
    }

    /// The list filter that shows the viewer exactly what they may see.
    pub fn filter(&self) -> DealFilter {
        DealFilter {
            org_id: Some(self.org_id),
            owner_user_id: (!self.manages_org && !self.reps_see_org).then_some(self.user_id),
            ..Default::default()
        }
    }
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

/// A deal the viewer may change. One they may only see is refused with a reason; one they may not see is absent.
fn find_to_change(conn: &mut DbConn, viewer: &Viewer, id: i64) -> Result<Deal, DealError> {
    let deal = find_for(conn, viewer, id)?.ok_or(DealError::NotFound)?;
    if viewer.may_change(&deal) {
        Ok(deal)
    } else {
        Err(DealError::Refused(
            "Only the rep who registered this deal, or your organisation's partner admin, can change it.".into(),
        ))
    }
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

pub fn list(conn: &mut DbConn, program_id: i64, filter: &DealFilter) -> QueryResult<Vec<DealRow>> {
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
        query = query.filter(deals::status.eq(status.as_str()));
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
        .limit(2000)
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
fn first_stage(conn: &mut DbConn, program_id: i64) -> QueryResult<Option<i64>> {
    Ok(super::deal_config::stages(conn, program_id)?
        .first()
        .map(|s| s.id))
}

/// Registers a deal in `submitted` with its first event. Without conflicts and below the program's threshold it
/// is approved at once by the system. Returns the new deal's id and the conflicts found.
pub fn register(
    conn: &mut DbConn,
    program: &Program,
    org_id: i64,
    registration: &Registration,
    actor: &Actor,
    notify: DealNotifier<'_>,
) -> Result<(Deal, usize), DealError> {
    conn.transaction(|conn| {
        let at = now();
        let keys = CustomerKeys::of(&registration.customer_name, &registration.customer_domain);
        let found = conflicts(conn, program.id, org_id, &keys, at)?;
        let id: i64 = diesel::insert_into(deals::table)
            .values((
                deals::program_id.eq(program.id),
                deals::partner_org_id.eq(org_id),
                deals::registered_by_user_id.eq(actor.user_id.expect("a person registers deals")),
                RegistrationColumns::of(registration, &keys),
                deals::status.eq(DealStatus::Submitted.as_str()),
                deals::submitted_at.eq(at),
                deals::created_at.eq(at),
                deals::updated_at.eq(at),
            ))
            .returning(deals::id)
            .get_result(conn)?;
        let detail = match found.len() {
            0 => format!("Registered for {}.", registration.amount),
            n => format!(
                "Registered for {} with {n} possible conflict{}.",
                registration.amount,
                if n == 1 { "" } else { "s" }
            ),
        };
        event(conn, id, actor, "registered", &detail)?;
        crate::webhooks::emit(
            conn,
            program.id,
            crate::webhooks::EventType::DealSubmitted,
            serde_json::json!({"deal_id": id, "partner_id": org_id, "customer": registration.customer_name,
                "amount": registration.amount.minor, "currency": registration.amount.currency.code()}),
        )?;
        let below_threshold = program.deal_auto_approve_below_minor.is_some_and(|limit| {
            registration.amount.currency.code() == program.currency
                && registration.amount.minor < limit
        });
        if found.is_empty() && below_threshold {
            let system = Actor::system("auto-approval");
            apply_decision(
                conn,
                program,
                id,
                DealDecision::Approve,
                "",
                &system,
                true,
                notify,
            )?;
        }
        let registered = find(conn, program.id, id)?.ok_or(DealError::NotFound)?;
        Ok((registered, found.len()))
    })
}

/// The columns a registration (or its correction) writes, in one place for the insert and the update.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = deals)]
struct RegistrationColumns<'a> {
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
    fn of(registration: &'a Registration, keys: &'a CustomerKeys) -> Self {
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

/// The partner's correction of a registration still awaiting approval or returned for more information. A
/// returned one goes back into the queue with a fresh SLA clock.
pub fn correct(
    conn: &mut DbConn,
    viewer: &Viewer,
    deal_id: i64,
    registration: &Registration,
    actor: &Actor,
) -> Result<(), DealError> {
    conn.transaction(|conn| {
        let deal = find_to_change(conn, viewer, deal_id)?;
        let before = deal.status();
        if !matches!(before, DealStatus::Submitted | DealStatus::InfoRequested) {
            return Err(DealError::Refused(
                "Only registrations awaiting approval or returned for more information can be edited.".into(),
            ));
        }
        let at = now();
        let keys = CustomerKeys::of(&registration.customer_name, &registration.customer_domain);
        let submitted_at = if before == DealStatus::InfoRequested {
            at
        } else {
            deal.submitted_at
        };
        let changed = diesel::update(
            deals::table
                .filter(deals::id.eq(deal_id))
                .filter(deals::status.eq(before.as_str())),
        )
        .set((
            RegistrationColumns::of(registration, &keys),
            deals::status.eq(DealStatus::Submitted.as_str()),
            deals::submitted_at.eq(submitted_at),
            // A fresh clock may be escalated again; an edit while waiting keeps the one escalation.
            deals::escalated_at.eq(if before == DealStatus::InfoRequested {
                None
            } else {
                deal.escalated_at
            }),
            deals::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(DealError::Refused(
                "The registration changed a moment ago; look again.".into(),
            ));
        }
        let detail = if before == DealStatus::InfoRequested {
            "Updated and submitted again."
        } else {
            "Registration updated."
        };
        event(conn, deal_id, actor, "updated", detail)?;
        Ok(())
    })
}

/// Other partners' registrations that protect the deal's customer now (`protects_customer`).
pub fn protecting(
    conn: &mut DbConn,
    program_id: i64,
    deal: &Deal,
    at: NaiveDateTime,
) -> QueryResult<Vec<(Deal, String)>> {
    Ok(
        conflicts(conn, program_id, deal.partner_org_id, &deal.keys(), at)?
            .into_iter()
            .filter_map(|found| match found.found {
                ConflictWith::Deal {
                    deal, partner_name, ..
                } if crate::domain::deal::protects_customer(
                    deal.status(),
                    deal.protection_until,
                    at,
                ) =>
                {
                    Some((*deal, partner_name))
                }
                _ => None,
            })
            .collect(),
    )
}

/// An approver's decision on a registration: approve (protection starts), reject or ask for more information
/// (both with a reason). Audit log, deal event and the partner's email, in one transaction. Approving while another
/// partner's registration protects the same customer is refused unless `over_protection` is set with a reason,
/// which the timeline and the audit log keep. Decisions of one program are taken one at a time (`db::lock`), so two
/// conflicting registrations approved at the same moment are never both approved without the override.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    conn: &mut DbConn,
    program: &Program,
    deal_id: i64,
    decision: DealDecision,
    reason: &str,
    over_protection: bool,
    actor: &Actor,
    notify: DealNotifier<'_>,
) -> Result<DealStatus, DealError> {
    crate::platform::db::exclusive_transaction(conn, |conn| {
        crate::platform::db::lock(conn, Lock::Program, &[program.id])?;
        if decision == DealDecision::Approve {
            let deal = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
            let protected_by = protecting(conn, program.id, &deal, now())?;
            if !protected_by.is_empty() {
                let named: Vec<String> = protected_by
                    .iter()
                    .map(|(other, partner)| {
                        crate::domain::deal::protection_text(
                            other.id,
                            partner,
                            other.protection_until,
                        )
                    })
                    .collect();
                let named = named.join("; ");
                if !over_protection {
                    return Err(DealError::Refused(format!(
                        "Another partner's registration protects this customer ({named}). To approve anyway, tick \
                         \"Approve over that protection\" and give the reason."
                    )));
                }
                if reason.trim().is_empty() {
                    return Err(DealError::Refused(format!(
                        "Give the reason for approving over the protection of {named}."
                    )));
                }
                event(
                    conn,
                    deal_id,
                    actor,
                    "approved_over_protection",
                    &format!("Approved over the protection of {named}: {}", reason.trim()),
                )?;
                record(
                    conn,
                    actor,
                    "deal.approve_over_protection",
                    &deal,
                    &Change {
                        reason: Some(reason.trim()),
                        before: Some(&named),
                        after: Some(DealStatus::Approved.as_str()),
                    },
                )?;
            }
        }
        apply_decision(
            conn, program, deal_id, decision, reason, actor, false, notify,
        )
    })
}

#[allow(clippy::too_many_arguments)]
fn apply_decision(
    conn: &mut DbConn,
    program: &Program,
    deal_id: i64,
    decision: DealDecision,
    reason: &str,
    actor: &Actor,
    automatic: bool,
    notify: DealNotifier<'_>,
) -> Result<DealStatus, DealError> {
    let deal = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
    let before = deal.status();
    let after =
        crate::domain::deal::decide(before, decision, reason).map_err(DealError::Refused)?;
    let reason = reason.trim();
    let at = now();
    let approved = after == DealStatus::Approved;
    let protection_until = approved.then(|| at + Duration::days(program.deal_protection_days));
    let stage_id = if approved {
        first_stage(conn, program.id)?
    } else {
        None
    };
    let changed = diesel::update(
        deals::table
            .filter(deals::id.eq(deal_id))
            .filter(deals::status.eq(before.as_str())),
    )
    .set((
        deals::status.eq(after.as_str()),
        deals::status_reason.eq(Some(reason).filter(|r| !r.is_empty())),
        deals::first_decided_at.eq(deal.first_decided_at.unwrap_or(at)),
        deals::approved_at.eq(if approved { Some(at) } else { deal.approved_at }),
        deals::protection_until.eq(protection_until),
        deals::stage_id.eq(stage_id),
        deals::updated_at.eq(at),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(DealError::Refused(
            "Someone else decided this registration a moment ago; look again.".into(),
        ));
    }
    let (kind, detail) = match decision {
        DealDecision::Approve => (
            "approved",
            format!(
                "{}Approved; protected until {}.",
                if automatic {
                    "No conflicts and below the auto-approval amount. "
                } else {
                    ""
                },
                protection_until
                    .expect("set on approval")
                    .format("%Y-%m-%d")
            ),
        ),
        DealDecision::Reject => ("rejected", format!("Rejected: {reason}")),
        DealDecision::RequestInfo => (
            "info_requested",
            format!("More information requested: {reason}"),
        ),
    };
    event(conn, deal_id, actor, kind, &detail)?;
    if approved {
        crate::webhooks::emit(
            conn,
            program.id,
            crate::webhooks::EventType::DealApproved,
            serde_json::json!({"deal_id": deal_id, "partner_id": deal.partner_org_id,
                "protected_until": protection_until.map(|t| t.and_utc().to_rfc3339())}),
        )?;
    }
    record(
        conn,
        actor,
        &format!("deal.{}", decision.as_str()),
        &deal,
        &Change {
            reason: Some(reason).filter(|r| !r.is_empty()),
            before: Some(before.as_str()),
            after: Some(after.as_str()),
        },
    )?;
    let updated = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
    notify(
        conn,
        &updated,
        &DealNotice::Decided {
            decision,
            reason: reason.to_string(),
            automatic,
        },
    )?;
    Ok(after)
}

/// What the partner changes on an approved deal. `None` leaves a value as it is.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub stage_id: Option<i64>,
    pub amount_minor: Option<i64>,
    pub expected_close_date: Option<NaiveDate>,
}

/// Moves an approved deal to another stage and updates its amount and close date; one event per change. Returns
/// how many things changed.
pub fn update_progress(
    conn: &mut DbConn,
    viewer: &Viewer,
    deal_id: i64,
    progress: &Progress,
    actor: &Actor,
) -> Result<usize, DealError> {
    conn.transaction(|conn| {
        let deal = find_to_change(conn, viewer, deal_id)?;
        if deal.status() != DealStatus::Approved {
            return Err(DealError::Refused(format!(
                "Only approved deals move through stages; this one is {}.",
                deal.status().label().to_lowercase()
            )));
        }
        let stages = super::deal_config::stages(conn, deal.program_id)?;
        let name_of = |id: Option<i64>| {
            id.and_then(|id| stages.iter().find(|s| s.id == id))
                .map(|s| s.name.clone())
                .unwrap_or_else(|| "no stage".into())
        };
        let mut events: Vec<(&str, String)> = Vec::new();
        if let Some(stage_id) = progress.stage_id.filter(|s| Some(*s) != deal.stage_id) {
            if !stages.iter().any(|s| s.id == stage_id) {
                return Err(DealError::Refused(
                    "Choose one of the program's stages.".into(),
                ));
            }
            events.push((
                "stage",
                format!(
                    "Stage {} → {}",
                    name_of(deal.stage_id),
                    name_of(Some(stage_id))
                ),
            ));
        }
        if let Some(amount) = progress.amount_minor.filter(|a| *a != deal.amount_minor) {
            events.push((
                "amount",
                format!(
                    "Amount {} → {}",
                    deal.amount(),
                    Money::new(amount, deal.currency())
                ),
            ));
        }
        if let Some(date) = progress
            .expected_close_date
            .filter(|d| *d != deal.expected_close_date)
        {
            events.push((
                "close_date",
                format!("Expected close {} → {date}", deal.expected_close_date),
            ));
        }
        if events.is_empty() {
            return Ok(0);
        }
        let changed = diesel::update(
            deals::table
                .filter(deals::id.eq(deal_id))
                .filter(deals::status.eq(DealStatus::Approved.as_str())),
        )
        .set((
            deals::stage_id.eq(progress.stage_id.or(deal.stage_id)),
            deals::amount_minor.eq(progress.amount_minor.unwrap_or(deal.amount_minor)),
            deals::expected_close_date.eq(progress
                .expected_close_date
                .unwrap_or(deal.expected_close_date)),
            deals::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(DealError::Refused(
                "The deal changed a moment ago; look again.".into(),
            ));
        }
        for (kind, detail) in &events {
            event(conn, deal_id, actor, kind, detail)?;
        }
        Ok(events.len())
    })
}

/// The partner reports a win with the final amount; the vendor confirms it before any margin is written.
pub fn report_won(
    conn: &mut DbConn,
    viewer: &Viewer,
    deal_id: i64,
    won_minor: i64,
    actor: &Actor,
) -> Result<(), DealError> {
    if won_minor <= 0 {
        return Err(DealError::Refused(
            "Enter the final amount the customer signed for.".into(),
        ));
    }
    close_by_partner(conn, viewer, deal_id, actor, |deal| {
        (
            DealStatus::WonReported,
            Some(won_minor),
            None,
            format!(
                "Reported won for {}; awaiting the vendor's confirmation.",
                Money::new(won_minor, deal.currency())
            ),
        )
    })
}

/// The partner reports a loss, with the reason.
pub fn report_lost(
    conn: &mut DbConn,
    viewer: &Viewer,
    deal_id: i64,
    reason: &str,
    actor: &Actor,
) -> Result<(), DealError> {
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        return Err(DealError::Refused(
            "Say why the deal was lost (price, competitor, no decision...).".into(),
        ));
    }
    close_by_partner(conn, viewer, deal_id, actor, |_| {
        (
            DealStatus::Lost,
            None,
            Some(reason.clone()),
            format!("Lost: {reason}"),
        )
    })
}

fn close_by_partner(
    conn: &mut DbConn,
    viewer: &Viewer,
    deal_id: i64,
    actor: &Actor,
    outcome: impl Fn(&Deal) -> (DealStatus, Option<i64>, Option<String>, String),
) -> Result<(), DealError> {
    conn.transaction(|conn| {
        let deal = find_to_change(conn, viewer, deal_id)?;
        if deal.status() != DealStatus::Approved {
            return Err(DealError::Refused(format!(
                "Only approved deals can be marked won or lost; this one is {}.",
                deal.status().label().to_lowercase()
            )));
        }
        let (status, won_minor, reason, detail) = outcome(&deal);
        let at = now();
        let closed_at = (status == DealStatus::Lost).then_some(at);
        let changed = diesel::update(
            deals::table
                .filter(deals::id.eq(deal_id))
                .filter(deals::status.eq(DealStatus::Approved.as_str())),
        )
        .set((
            deals::status.eq(status.as_str()),
            deals::won_amount_minor.eq(won_minor),
            deals::status_reason.eq(reason),
            deals::closed_at.eq(closed_at),
            deals::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(DealError::Refused(
                "The deal changed a moment ago; look again.".into(),
            ));
        }
        event(conn, deal_id, actor, status.as_str(), &detail)?;
        Ok(())
    })
}

/// The vendor confirms a reported win: the deal is won and the partner's margin (the org's tier benefit in basis
/// points of the won amount, in the deal's currency) is written to the ledger, once, with the rule in words.
/// Returns what the staff member is told: the margin written, or why there is none.
pub fn confirm_win(
    conn: &mut DbConn,
    program: &Program,
    deal_id: i64,
    actor: &Actor,
    notify: DealNotifier<'_>,
) -> Result<String, DealError> {
    conn.transaction(|conn| {
        let deal = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
        if deal.status() != DealStatus::WonReported {
            return Err(DealError::Refused(format!(
                "Only wins the partner reported can be confirmed; this deal is {}.",
                deal.status().label().to_lowercase()
            )));
        }
        let at = now();
        let changed = diesel::update(
            deals::table
                .filter(deals::id.eq(deal_id))
                .filter(deals::status.eq(DealStatus::WonReported.as_str())),
        )
        .set((
            deals::status.eq(DealStatus::Won.as_str()),
            deals::closed_at.eq(Some(at)),
            deals::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(DealError::Refused(
                "Someone else confirmed this win a moment ago; look again.".into(),
            ));
        }
        let won = deal.won_amount().expect("a reported win has its amount");
        let tier: Option<(String, i64)> = partner_orgs::table
            .inner_join(tiers::table)
            .filter(partner_orgs::id.eq(deal.partner_org_id))
            .select((tiers::name, tiers::margin_bps))
            .first(conn)
            .optional()?;
        let (margin_minor, rule) =
            crate::domain::deal::margin(won, tier.as_ref().map(|(n, b)| (n.as_str(), *b)));
        let explanation = format!("Deal {}: {rule}", deal.title());
        if margin_minor > 0 {
            crate::ledger::store::append(
                conn,
                &crate::ledger::store::NewEntry {
                    partner_org_id: deal.partner_org_id,
                    amount_minor: margin_minor,
                    currency: &deal.currency,
                    kind: EntryKind::DealMargin,
                    status: EntryStatus::Approved,
                    available_at: at,
                    source_type: "deal",
                    source_id: deal.id,
                    conversion_id: None,
                    rule_id: None,
                    explanation: &explanation,
                },
            )?;
        }
        event(
            conn,
            deal_id,
            actor,
            "won",
            &format!("Win confirmed. {explanation}"),
        )?;
        crate::webhooks::emit(
            conn,
            program.id,
            crate::webhooks::EventType::DealWon,
            serde_json::json!({"deal_id": deal_id, "partner_id": deal.partner_org_id,
                "won_amount": won.minor, "currency": deal.currency, "margin": margin_minor}),
        )?;
        record(
            conn,
            actor,
            "deal.confirm_win",
            &deal,
            &Change {
                before: Some(DealStatus::WonReported.as_str()),
                after: Some(&format!(
                    "won, margin {}",
                    Money::new(margin_minor, deal.currency())
                )),
                ..Default::default()
            },
        )?;
        let updated = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
        notify(
            conn,
            &updated,
            &DealNotice::WinConfirmed {
                margin: explanation.clone(),
            },
        )?;
        Ok(crate::domain::deal::win_confirmed_message(
            Money::new(margin_minor, deal.currency()),
            &rule,
        ))
    })
}

/// The vendor does not confirm a reported win (yet): the deal goes back to approved, with the reason.
pub fn send_back_win(
    conn: &mut DbConn,
    program: &Program,
    deal_id: i64,
    reason: &str,
    actor: &Actor,
    notify: DealNotifier<'_>,
) -> Result<(), DealError> {
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        return Err(DealError::Refused(
            "Say why the win is not confirmed.".into(),
        ));
    }
    conn.transaction(|conn| {
        let deal = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
        let changed = diesel::update(
            deals::table
                .filter(deals::id.eq(deal_id))
                .filter(deals::status.eq(DealStatus::WonReported.as_str())),
        )
        .set((
            deals::status.eq(DealStatus::Approved.as_str()),
            deals::won_amount_minor.eq(None::<i64>),
            deals::status_reason.eq(Some(&reason)),
            deals::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(DealError::Refused(
                "This deal has no reported win waiting for confirmation.".into(),
            ));
        }
        event(
            conn,
            deal_id,
            actor,
            "win_sent_back",
            &format!("Win not confirmed: {reason}"),
        )?;
        record(
            conn,
            actor,
            "deal.send_back_win",
            &deal,
            &Change {
                reason: Some(&reason),
                before: Some(DealStatus::WonReported.as_str()),
                after: Some(DealStatus::Approved.as_str()),
            },
        )?;
        let updated = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
        notify(
            conn,
            &updated,
            &DealNotice::WinSentBack {
                reason: reason.clone(),
            },
        )?;
        Ok(())
    })
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

/// The partner asks once per deal for longer protection, saying why.
pub fn request_extension(
    conn: &mut DbConn,
    viewer: &Viewer,
    deal_id: i64,
    justification: &str,
    actor: &Actor,
) -> Result<(), DealError> {
    let justification = justification.trim();
    if justification.chars().count() < 10 {
        return Err(DealError::Refused(
            "Say why the deal needs longer protection (at least 10 characters).".into(),
        ));
    }
    conn.transaction(|conn| {
        let deal = find_to_change(conn, viewer, deal_id)?;
        if deal.status() != DealStatus::Approved {
            return Err(DealError::Refused(
                "Only approved, protected deals can be extended.".into(),
            ));
        }
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(deal_extensions::table)
                .values((
                    deal_extensions::deal_id.eq(deal_id),
                    deal_extensions::justification.eq(justification),
                    deal_extensions::requested_by_user_id.eq(actor.user_id.expect("a person asks")),
                    deal_extensions::requested_at.eq(now()),
                ))
                .execute(conn)
        });
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(DealError::Refused(
                    "A deal gets one extension request, and this one has had it.".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        event(
            conn,
            deal_id,
            actor,
            "extension_requested",
            &format!("Extension requested: {justification}"),
        )?;
        Ok(())
    })
}

/// An admin grants the extension (`Some(days)`, added to the protection) or refuses it with a reason.
pub fn decide_extension(
    conn: &mut DbConn,
    program: &Program,
    deal_id: i64,
    grant_days: Option<i64>,
    reason: &str,
    actor: &Actor,
    notify: DealNotifier<'_>,
) -> Result<(), DealError> {
    let reason = reason.trim().to_string();
    match grant_days {
        Some(days) if !(1..=365).contains(&days) => {
            return Err(DealError::Refused("Grant between 1 and 365 days.".into()))
        }
        None if reason.is_empty() => {
            return Err(DealError::Refused(
                "Give a reason for refusing the extension.".into(),
            ))
        }
        _ => {}
    }
    conn.transaction(|conn| {
        let deal = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
        if grant_days.is_some() && deal.status() != DealStatus::Approved {
            return Err(DealError::Refused(format!(
                "The deal is {} now; only a protected deal can be extended.",
                deal.status().label().to_lowercase()
            )));
        }
        let at = now();
        let claimed = diesel::update(
            deal_extensions::table
                .filter(deal_extensions::deal_id.eq(deal_id))
                .filter(deal_extensions::decided_at.is_null()),
        )
        .set((
            deal_extensions::decided_at.eq(Some(at)),
            deal_extensions::granted_days.eq(grant_days),
            deal_extensions::refusal_reason.eq(grant_days.is_none().then_some(&reason)),
        ))
        .execute(conn)?;
        if claimed == 0 {
            return Err(DealError::Refused(
                "There is no open extension request on this deal.".into(),
            ));
        }
        let (notice, detail) = match grant_days {
            Some(days) => {
                let until = deal.protection_until.unwrap_or(at) + Duration::days(days);
                // Guarded on the status read: an expiry in between refuses the grant (and rolls back the claim).
                let extended = diesel::update(
                    deals::table
                        .filter(deals::id.eq(deal_id))
                        .filter(deals::status.eq(DealStatus::Approved.as_str())),
                )
                .set((
                    deals::protection_until.eq(Some(until)),
                    deals::expiry_warned_at.eq(None::<NaiveDateTime>),
                    deals::updated_at.eq(at),
                ))
                .execute(conn)?;
                if extended == 0 {
                    return Err(DealError::Refused(
                        "The deal changed a moment ago; look again.".into(),
                    ));
                }
                (
                    DealNotice::ExtensionGranted { days },
                    format!(
                        "Extension granted: {days} days, protected until {}.",
                        until.format("%Y-%m-%d")
                    ),
                )
            }
            None => (
                DealNotice::ExtensionRefused {
                    reason: reason.clone(),
                },
                format!("Extension refused: {reason}"),
            ),
        };
        event(conn, deal_id, actor, "extension_decided", &detail)?;
        record(
            conn,
            actor,
            if grant_days.is_some() {
                "deal.extension_granted"
            } else {
                "deal.extension_refused"
            },
            &deal,
            &Change {
                reason: Some(&reason).filter(|r| !r.is_empty()).map(|r| r.as_str()),
                after: Some(&detail),
                ..Default::default()
            },
        )?;
        let updated = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
        notify(conn, &updated, &notice)?;
        Ok(())
    })
}

pub struct ExpiryRun {
    pub warned: usize,
    pub expired: usize,
}

/// The protection job: warns a week ahead, once, and expires deals whose protection passed without a win.
pub fn run_expiry(
    conn: &mut DbConn,
    at: NaiveDateTime,
    notify: DealNotifier<'_>,
) -> Result<ExpiryRun, DealError> {
    let due: Vec<Deal> = deals::table
        .filter(deals::status.eq(DealStatus::Approved.as_str()))
        .filter(
            deals::protection_until
                .le(at + Duration::days(crate::domain::deal::EXPIRY_WARNING_DAYS)),
        )
        .order(deals::id)
        .select(Deal::as_select())
        .load(conn)?;
    let system = Actor::system("deal protection");
    let mut run = ExpiryRun {
        warned: 0,
        expired: 0,
    };
    for deal in due {
        let Some(until) = deal.protection_until else {
            continue;
        };
        conn.transaction::<_, DealError, _>(|conn| {
            let still = deals::table
                .filter(deals::id.eq(deal.id))
                .filter(deals::status.eq(DealStatus::Approved.as_str()))
                .filter(deals::protection_until.eq(until));
            match expiry_step(until, deal.expiry_warned_at, at) {
                ExpiryStep::Nothing => {}
                ExpiryStep::Warn => {
                    let claimed = diesel::update(still.filter(deals::expiry_warned_at.is_null()))
                        .set(deals::expiry_warned_at.eq(Some(at)))
                        .execute(conn)?;
                    if claimed == 1 {
                        event(
                            conn,
                            deal.id,
                            &system,
                            "expiry_warning",
                            &format!(
                                "Protection ends {}; the partner was reminded.",
                                until.format("%Y-%m-%d")
                            ),
                        )?;
                        notify(conn, &deal, &DealNotice::ExpiringSoon)?;
                        run.warned += 1;
                    }
                }
                ExpiryStep::Expire => {
                    let claimed = diesel::update(still)
                        .set((
                            deals::status.eq(DealStatus::Expired.as_str()),
                            deals::closed_at.eq(Some(at)),
                            deals::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                    if claimed == 1 {
                        event(
                            conn,
                            deal.id,
                            &system,
                            "expired",
                            &format!(
                                "Protection ended {} without a win.",
                                until.format("%Y-%m-%d")
                            ),
                        )?;
                        let expired = Deal {
                            status: DealStatus::Expired.as_str().into(),
                            ..deal.clone()
                        };
                        notify(conn, &expired, &DealNotice::Expired)?;
                        run.expired += 1;
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(run)
}

/// Staff to tell about one overdue registration: (deal, partner name, SLA clock).
pub type EscalationNotifier<'a> =
    &'a dyn Fn(&mut DbConn, &Deal, &str, &SlaClock) -> Result<(), NotifyError>;

/// The SLA job: each registration waiting past the program's SLA is escalated to the staff once.
pub fn escalate_overdue(
    conn: &mut DbConn,
    program: &Program,
    at: NaiveDateTime,
    notify: EscalationNotifier<'_>,
) -> Result<usize, DealError> {
    let waiting: Vec<(Deal, String)> = deals::table
        .inner_join(partner_orgs::table)
        .filter(deals::program_id.eq(program.id))
        .filter(deals::status.eq(DealStatus::Submitted.as_str()))
        .filter(deals::escalated_at.is_null())
        .order(deals::submitted_at)
        .select((Deal::as_select(), partner_orgs::name))
        .load(conn)?;
    let system = Actor::system("approval SLA");
    let mut escalated = 0;
    for (deal, partner_name) in waiting {
        let clock = SlaClock::at(deal.submitted_at, at, program.deal_sla_hours);
        if !clock.overdue() {
            continue;
        }
        conn.transaction::<_, DealError, _>(|conn| {
            let claimed = diesel::update(
                deals::table
                    .filter(deals::id.eq(deal.id))
                    .filter(deals::status.eq(DealStatus::Submitted.as_str()))
                    .filter(deals::escalated_at.is_null()),
            )
            .set(deals::escalated_at.eq(Some(at)))
            .execute(conn)?;
            if claimed == 1 {
                event(
                    conn,
                    deal.id,
                    &system,
                    "escalated",
                    &format!(
                        "Waiting {} against the {} h SLA; the program's managers were told.",
                        clock.text(),
                        program.deal_sla_hours
                    ),
                )?;
                notify(conn, &deal, &partner_name, &clock)?;
                escalated += 1;
            }
            Ok(())
        })?;
    }
    Ok(escalated)
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
        .filter(deals::status.eq(DealStatus::Won.as_str()))
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
