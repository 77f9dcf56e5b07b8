//! The MDF's SQL: funds and allocations, requests, claims, proof files, events and expiries, and the fund locks.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::MdfError;
use crate::deals::rules::DealStatus;
use crate::domain::money::{Currency, Money};
use crate::mdf::rules::{ActivityType, Allocation, ClaimStatus, RequestStatus};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{
    deals, mdf_allocations, mdf_claim_deals, mdf_claims, mdf_events, mdf_expiries, mdf_funds,
    mdf_proof_files, mdf_requests, partner_orgs, tiers,
};
use crate::platform::db::{now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_funds)]
pub struct Fund {
    pub id: i64,
    pub program_id: i64,
    pub name: String,
    pub currency: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub accrual_bps: i64,
    pub expired_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Fund {
    pub fn currency(&self) -> Currency {
        Currency::parse(&self.currency).expect("checked on the way in")
    }

    /// An amount of the fund's currency as pages show it; templates pass references, code passes values.
    pub fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        Money::new(*minor.borrow(), self.currency()).to_string()
    }

    pub fn accrual_text(&self) -> String {
        crate::domain::money::percent_text(self.accrual_bps)
    }

    pub fn period(&self) -> String {
        format!("{} to {}", self.starts_on, self.ends_on)
    }

    /// Open for new requests on `today`: not expired and not past its last day.
    pub fn open_on(&self, today: NaiveDate) -> bool {
        self.expired_at.is_none() && today <= self.ends_on
    }

    pub(crate) fn accrual_range(&self) -> (NaiveDateTime, NaiveDateTime) {
        (
            self.starts_on.and_hms_opt(0, 0, 0).expect("midnight"),
            (self.ends_on + Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .expect("midnight"),
        )
    }
}

pub struct NewFund<'a> {
    pub name: &'a str,
    pub currency: Currency,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub accrual_bps: i64,
}

pub fn funds(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<Fund>> {
    mdf_funds::table
        .filter(mdf_funds::program_id.eq(program_id))
        .order((mdf_funds::starts_on.desc(), mdf_funds::id.desc()))
        .select(Fund::as_select())
        .load(conn)
}

pub fn find_fund(conn: &mut DbConn, program_id: i64, id: i64) -> QueryResult<Option<Fund>> {
    mdf_funds::table
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_funds::id.eq(id))
        .select(Fund::as_select())
        .first(conn)
        .optional()
}

/// The fund of a request already found within its program.
pub fn fund_of(conn: &mut DbConn, request: &MdfRequest) -> QueryResult<Fund> {
    mdf_funds::table
        .find(request.fund_id)
        .select(Fund::as_select())
        .first(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_allocations)]
pub struct AllocationRow {
    pub id: i64,
    pub fund_id: i64,
    pub tier_id: Option<i64>,
    pub partner_org_id: Option<i64>,
    pub amount_minor: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl AllocationRow {
    pub(crate) fn rule(&self) -> Allocation {
        match (self.tier_id, self.partner_org_id) {
            (Some(tier_id), _) => Allocation::Tier {
                tier_id,
                amount_minor: self.amount_minor,
            },
            (None, Some(org_id)) => Allocation::Partner {
                org_id,
                amount_minor: self.amount_minor,
            },
            (None, None) => unreachable!("the schema requires a tier or a partner"),
        }
    }
}

/// An allocation with the name of its tier or org.
pub struct AllocationView {
    pub row: AllocationRow,
    pub label: String,
}

pub fn allocations(conn: &mut DbConn, fund_id: i64) -> QueryResult<Vec<AllocationView>> {
    let rows: Vec<(AllocationRow, Option<String>, Option<String>)> = mdf_allocations::table
        .left_join(tiers::table.on(mdf_allocations::tier_id.eq(tiers::id.nullable())))
        .left_join(
            partner_orgs::table.on(mdf_allocations::partner_org_id.eq(partner_orgs::id.nullable())),
        )
        .filter(mdf_allocations::fund_id.eq(fund_id))
        .order(mdf_allocations::id)
        .select((
            AllocationRow::as_select(),
            tiers::name.nullable(),
            partner_orgs::name.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(row, tier, org)| AllocationView {
            label: match (tier, org) {
                (Some(tier), _) => format!("Every {tier} partner"),
                (None, Some(org)) => org,
                (None, None) => String::new(),
            },
            row,
        })
        .collect())
}

#[derive(Debug, Clone, Copy)]
pub enum AllocationTarget {
    Tier(i64),
    Partner(i64),
}

/// Serialises money changes of one fund (see the module comment).
pub(crate) fn lock_fund(conn: &mut DbConn, fund_id: i64) -> QueryResult<()> {
    diesel::update(mdf_funds::table.find(fund_id))
        .set(mdf_funds::updated_at.eq(now()))
        .execute(conn)
        .map(|_| ())
}

pub(crate) fn lock_fund_of(conn: &mut DbConn, request_id: i64) -> QueryResult<()> {
    diesel::update(
        mdf_funds::table.filter(
            mdf_funds::id.eq_any(
                mdf_requests::table
                    .filter(mdf_requests::id.eq(request_id))
                    .select(mdf_requests::fund_id),
            ),
        ),
    )
    .set(mdf_funds::updated_at.eq(now()))
    .execute(conn)
    .map(|_| ())
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_requests)]
pub struct MdfRequest {
    pub id: i64,
    pub fund_id: i64,
    pub partner_org_id: i64,
    pub requested_by_user_id: i64,
    pub activity_type: ActivityType,
    pub title: String,
    pub description: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub requested_minor: i64,
    pub currency: String,
    pub expected_leads: i64,
    pub expected_pipeline_minor: i64,
    pub status: RequestStatus,
    pub status_reason: Option<String>,
    pub approved_minor: Option<i64>,
    pub decided_at: Option<NaiveDateTime>,
    pub claim_due_on: Option<NaiveDate>,
    pub claim_reminded_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl MdfRequest {
    pub fn status(&self) -> RequestStatus {
        self.status
    }

    pub fn activity(&self) -> ActivityType {
        self.activity_type
    }

    pub fn currency(&self) -> Currency {
        Currency::parse(&self.currency).expect("checked on the way in")
    }

    pub fn requested(&self) -> Money {
        Money::new(self.requested_minor, self.currency())
    }

    pub fn approved(&self) -> Option<Money> {
        self.approved_minor.map(|m| Money::new(m, self.currency()))
    }

    pub fn expected_pipeline(&self) -> Money {
        Money::new(self.expected_pipeline_minor, self.currency())
    }

    pub fn label(&self) -> String {
        format!("MDF #{} {}", self.id, self.title)
    }
}

/// What the partner asks for (or corrects when the request was returned).
#[derive(Debug, Clone)]
pub struct RequestInput {
    pub fund_id: i64,
    pub activity: ActivityType,
    pub title: String,
    pub description: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub requested: Money,
    pub expected_leads: i64,
    pub expected_pipeline: Money,
}

pub fn event(
    conn: &mut DbConn,
    request_id: i64,
    actor: &Actor,
    kind: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(mdf_events::table)
        .values((
            mdf_events::request_id.eq(request_id),
            mdf_events::actor_user_id.eq(actor.user_id),
            mdf_events::actor_label.eq(&actor.label),
            mdf_events::kind.eq(kind),
            mdf_events::detail.eq(detail),
            mdf_events::created_at.eq(now()),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_events)]
pub struct MdfEvent {
    pub id: i64,
    pub request_id: i64,
    pub actor_user_id: Option<i64>,
    pub actor_label: String,
    pub kind: String,
    pub detail: String,
    pub created_at: NaiveDateTime,
}

pub fn events(conn: &mut DbConn, request_id: i64) -> QueryResult<Vec<MdfEvent>> {
    mdf_events::table
        .filter(mdf_events::request_id.eq(request_id))
        .order(mdf_events::id)
        .select(MdfEvent::as_select())
        .load(conn)
}

pub(crate) fn audit_request(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    request: &MdfRequest,
    change: &Change<'_>,
) -> QueryResult<()> {
    audit::record(
        conn,
        actor,
        action,
        &Subject {
            kind: "mdf_request",
            id: Some(request.id),
            label: &request.label(),
        },
        change,
    )
}

/// The name of an org, for messages about its requests.
pub fn org_name(conn: &mut DbConn, org_id: i64) -> QueryResult<String> {
    partner_orgs::table
        .find(org_id)
        .select(partner_orgs::name)
        .first(conn)
}

/// A request of the program (staff), or `None`.
pub fn find_request(
    conn: &mut DbConn,
    program_id: i64,
    id: i64,
) -> QueryResult<Option<MdfRequest>> {
    mdf_requests::table
        .inner_join(mdf_funds::table)
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_requests::id.eq(id))
        .select(MdfRequest::as_select())
        .first(conn)
        .optional()
}

/// A request of the org, or `None`: another org's request is as good as absent.
pub fn find_for_org(conn: &mut DbConn, org_id: i64, id: i64) -> QueryResult<Option<MdfRequest>> {
    mdf_requests::table
        .filter(mdf_requests::partner_org_id.eq(org_id))
        .filter(mdf_requests::id.eq(id))
        .select(MdfRequest::as_select())
        .first(conn)
        .optional()
}

pub(crate) fn request_by_id(conn: &mut DbConn, id: i64) -> Result<MdfRequest, MdfError> {
    mdf_requests::table
        .find(id)
        .select(MdfRequest::as_select())
        .first(conn)
        .optional()?
        .ok_or(MdfError::NotFound)
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = mdf_requests)]
pub(crate) struct RequestColumns<'a> {
    fund_id: i64,
    activity_type: &'a str,
    title: &'a str,
    description: &'a str,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    requested_minor: i64,
    currency: &'a str,
    expected_leads: i64,
    expected_pipeline_minor: i64,
}

impl<'a> RequestColumns<'a> {
    pub(crate) fn of(input: &'a RequestInput) -> Self {
        Self {
            fund_id: input.fund_id,
            activity_type: input.activity.as_str(),
            title: &input.title,
            description: &input.description,
            starts_on: input.starts_on,
            ends_on: input.ends_on,
            requested_minor: input.requested.minor,
            currency: input.requested.currency.code(),
            expected_leads: input.expected_leads,
            expected_pipeline_minor: input.expected_pipeline.minor,
        }
    }
}

/// A request with its fund's name, its org's name and its claim's status, for lists.
pub struct RequestRow {
    pub request: MdfRequest,
    pub fund_name: String,
    pub org_name: String,
    pub claim_status: Option<String>,
}

impl RequestRow {
    pub fn claim_status(&self) -> Option<ClaimStatus> {
        self.claim_status.as_deref().and_then(|s| s.parse().ok())
    }
}

pub(crate) fn request_rows(
    conn: &mut DbConn,
    program_id: i64,
    org_id: Option<i64>,
    statuses: Option<&[RequestStatus]>,
    claim_statuses: Option<&[ClaimStatus]>,
    newest_first: bool,
    window: crate::platform::db::Window,
) -> QueryResult<Vec<RequestRow>> {
    let mut query = mdf_requests::table
        .inner_join(mdf_funds::table)
        .inner_join(partner_orgs::table)
        .left_join(mdf_claims::table)
        .filter(mdf_funds::program_id.eq(program_id))
        .select((
            MdfRequest::as_select(),
            mdf_funds::name,
            partner_orgs::name,
            mdf_claims::status.nullable(),
        ))
        .into_boxed();
    if let Some(org) = org_id {
        query = query.filter(mdf_requests::partner_org_id.eq(org));
    }
    query = if newest_first {
        query.order(mdf_requests::id.desc())
    } else {
        // Queues: oldest first.
        query.order((mdf_requests::updated_at.asc(), mdf_requests::id.asc()))
    };
    query = query.offset(window.offset).limit(window.limit);
    if let Some(statuses) = statuses {
        query = query.filter(mdf_requests::status.eq_any(statuses.iter().copied()));
    }
    if let Some(statuses) = claim_statuses {
        query = query.filter(
            mdf_claims::status
                .nullable()
                .eq_any(statuses.iter().map(|s| Some(s.as_str()))),
        );
    }
    Ok(query
        .load::<(MdfRequest, String, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(request, fund_name, org_name, claim_status)| RequestRow {
            request,
            fund_name,
            org_name,
            claim_status,
        })
        .collect())
}

/// The org's requests, newest first, in `window`.
pub fn org_requests(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    window: crate::platform::db::Window,
) -> QueryResult<Vec<RequestRow>> {
    request_rows(conn, program_id, Some(org_id), None, None, true, window)
}

/// Staff queues: requests awaiting a decision, and claims awaiting review, oldest first.
pub fn queue(
    conn: &mut DbConn,
    program_id: i64,
) -> QueryResult<(Vec<RequestRow>, Vec<RequestRow>)> {
    Ok((
        request_rows(
            conn,
            program_id,
            None,
            Some(&[RequestStatus::Submitted]),
            None,
            false,
            crate::platform::db::Window::ALL,
        )?,
        request_rows(
            conn,
            program_id,
            None,
            None,
            Some(&[ClaimStatus::Submitted]),
            false,
            crate::platform::db::Window::ALL,
        )?,
    ))
}

/// How many requests wait for a decision and how many claims for review, for the admin dashboard.
pub fn waiting_counts(conn: &mut DbConn, program_id: i64) -> QueryResult<(i64, i64)> {
    let requests = mdf_requests::table
        .inner_join(mdf_funds::table)
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_requests::status.eq(RequestStatus::Submitted))
        .count()
        .get_result(conn)?;
    let claims = mdf_claims::table
        .inner_join(mdf_requests::table.inner_join(mdf_funds::table))
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_claims::status.eq(ClaimStatus::Submitted))
        .count()
        .get_result(conn)?;
    Ok((requests, claims))
}

/// Every request of the program, newest first (the staff list), in `window`.
pub fn all_requests(
    conn: &mut DbConn,
    program_id: i64,
    window: crate::platform::db::Window,
) -> QueryResult<Vec<RequestRow>> {
    request_rows(conn, program_id, None, None, None, true, window)
}

// ---------------------------------------------------------------------------------------------------------------
// Claims and proof files

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_claims)]
pub struct Claim {
    pub id: i64,
    pub request_id: i64,
    pub submitted_by_user_id: i64,
    pub actual_cost_minor: i64,
    pub claimed_minor: i64,
    pub leads_generated: i64,
    pub results: String,
    pub status: ClaimStatus,
    pub status_reason: Option<String>,
    pub submitted_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Claim {
    pub fn status(&self) -> ClaimStatus {
        self.status
    }
}

pub fn claim_of(conn: &mut DbConn, request_id: i64) -> QueryResult<Option<Claim>> {
    mdf_claims::table
        .filter(mdf_claims::request_id.eq(request_id))
        .select(Claim::as_select())
        .first(conn)
        .optional()
}

/// A deal linked to a claim: (id, title, status, won amount).
pub struct LinkedDeal {
    pub id: i64,
    pub title: String,
    pub status: DealStatus,
    pub won: Option<Money>,
}

pub fn linked_deals(conn: &mut DbConn, claim_id: i64) -> QueryResult<Vec<LinkedDeal>> {
    let rows: Vec<(i64, String, DealStatus, Option<i64>, String)> = mdf_claim_deals::table
        .inner_join(deals::table)
        .filter(mdf_claim_deals::claim_id.eq(claim_id))
        .order(deals::id)
        .select((
            deals::id,
            deals::customer_name,
            deals::status,
            deals::won_amount_minor,
            deals::currency,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, status, won, currency)| LinkedDeal {
            id,
            title: format!("#{id} {name}"),
            status,
            won: won.map(|m| Money::new(m, Currency::parse(&currency).expect("ISO code"))),
        })
        .collect())
}

/// The org's registrations a claim may name as results: approved, reported or confirmed wins.
/// The org's deals a claim may name; only those `registered_by` registered when given (see `claim_deal_scope`).
pub fn linkable_deals(
    conn: &mut DbConn,
    org_id: i64,
    registered_by: Option<i64>,
) -> QueryResult<Vec<(i64, String)>> {
    let mut query = deals::table
        .filter(deals::partner_org_id.eq(org_id))
        .into_boxed();
    if let Some(user_id) = registered_by {
        query = query.filter(deals::registered_by_user_id.eq(user_id));
    }
    let rows: Vec<(i64, String, DealStatus)> = query
        .filter(deals::status.eq_any([
            DealStatus::Approved,
            DealStatus::WonReported,
            DealStatus::Won,
        ]))
        .order(deals::id.desc())
        .select((deals::id, deals::customer_name, deals::status))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, status)| {
            (
                id,
                format!("#{id} {name} ({})", status.label().to_lowercase()),
            )
        })
        .collect())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_proof_files)]
pub struct ProofFile {
    pub id: i64,
    pub request_id: i64,
    pub partner_org_id: i64,
    pub stored_name: String,
    pub original_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub uploaded_by_user_id: i64,
    pub uploaded_at: NaiveDateTime,
}

impl ProofFile {
    pub fn size_text(&self) -> String {
        match self.size_bytes {
            b if b >= 1024 * 1024 => format!("{:.1} MiB", b as f64 / 1024.0 / 1024.0),
            b if b >= 1024 => format!("{} KiB", b / 1024),
            b => format!("{b} bytes"),
        }
    }
}

pub struct NewProof<'a> {
    pub stored_name: &'a str,
    pub original_name: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
}

pub fn proof_files(conn: &mut DbConn, request_id: i64) -> QueryResult<Vec<ProofFile>> {
    mdf_proof_files::table
        .filter(mdf_proof_files::request_id.eq(request_id))
        .order(mdf_proof_files::id)
        .select(ProofFile::as_select())
        .load(conn)
}

/// A proof file, for staff of the program or for the org that uploaded it; `None` for anyone else.
pub fn find_proof(
    conn: &mut DbConn,
    program_id: i64,
    id: i64,
    org_id: Option<i64>,
) -> QueryResult<Option<ProofFile>> {
    let mut query = mdf_proof_files::table
        .inner_join(partner_orgs::table)
        .filter(partner_orgs::program_id.eq(program_id))
        .filter(mdf_proof_files::id.eq(id))
        .select(ProofFile::as_select())
        .into_boxed();
    if let Some(org) = org_id {
        query = query.filter(mdf_proof_files::partner_org_id.eq(org));
    }
    query.first(conn).optional()
}

pub struct ClaimInput {
    pub actual_cost: Money,
    pub claimed: Money,
    pub leads_generated: i64,
    pub results: String,
    pub deal_ids: Vec<i64>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = mdf_claims)]
pub(crate) struct ClaimColumns<'a> {
    pub(crate) submitted_by_user_id: i64,
    pub(crate) actual_cost_minor: i64,
    pub(crate) claimed_minor: i64,
    pub(crate) leads_generated: i64,
    pub(crate) results: &'a str,
    pub(crate) status: &'a str,
    pub(crate) submitted_at: NaiveDateTime,
    pub(crate) updated_at: NaiveDateTime,
}

pub(crate) fn record_expiry(
    conn: &mut DbConn,
    fund: &Fund,
    org_id: i64,
    amount_minor: i64,
    reason: &str,
) -> QueryResult<()> {
    diesel::insert_into(mdf_expiries::table)
        .values((
            mdf_expiries::fund_id.eq(fund.id),
            mdf_expiries::partner_org_id.eq(org_id),
            mdf_expiries::amount_minor.eq(amount_minor),
            mdf_expiries::reason.eq(reason),
            mdf_expiries::created_at.eq(now()),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_expiries)]
pub struct Expiry {
    pub id: i64,
    pub fund_id: i64,
    pub partner_org_id: i64,
    pub amount_minor: i64,
    pub reason: String,
    pub created_at: NaiveDateTime,
}

pub fn expiries(conn: &mut DbConn, fund_id: i64) -> QueryResult<Vec<(Expiry, String)>> {
    mdf_expiries::table
        .inner_join(partner_orgs::table.on(mdf_expiries::partner_org_id.eq(partner_orgs::id)))
        .filter(mdf_expiries::fund_id.eq(fund_id))
        .order(mdf_expiries::id)
        .select((Expiry::as_select(), partner_orgs::name))
        .load(conn)
}
