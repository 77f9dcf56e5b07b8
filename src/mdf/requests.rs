//! Requests for funds: submitting (bounded by what is available), resubmitting after a return, and the staff's
//! decisions (approve in full or in part, decline, return).

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::domain::money::Money;
use crate::mdf::rules::{
    check_activity_dates, check_approved_amount, check_decision, check_requested_amount,
    claim_due_on, Decision, RequestStatus,
};
use crate::platform::audit::{Actor, Change};
use crate::platform::db::schema::mdf_requests;
use crate::platform::db::{now, DbConn};
use crate::programs::Program;

use super::store::*;
use super::*;

/// Checks an input against the fund it names and the org's position there. `own_awaiting` is what this very
/// request already holds (when it is corrected), which is free for it.
pub(crate) fn check_request(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    input: &RequestInput,
    own_awaiting: i64,
    today: NaiveDate,
) -> Result<Fund, MdfError> {
    let fund = find_fund(conn, program_id, input.fund_id)?.ok_or(MdfError::Field(
        "fund_id",
        "Choose one of the open funds.".into(),
    ))?;
    if !fund.open_on(today) {
        return Err(MdfError::Field(
            "fund_id",
            format!(
                "The fund {} closed on {}; choose an open fund.",
                fund.name, fund.ends_on
            ),
        ));
    }
    if input.requested.currency.code() != fund.currency {
        return Err(MdfError::Field(
            "requested",
            format!("The fund {} is in {}.", fund.name, fund.currency),
        ));
    }
    check_activity_dates(input.starts_on, input.ends_on, fund.starts_on, fund.ends_on)
        .map_err(|(field, message)| MdfError::Field(field, message))?;
    let position = position_of(conn, &fund, org_id)?;
    let available = Money::new(position.available() + own_awaiting, fund.currency());
    check_requested_amount(input.requested, available)
        .map_err(|message| MdfError::Field("requested", message.into()))?;
    Ok(fund)
}

/// A partner's request for funds. Refused (naming the field) when it asks for more than the org has available.
#[tracing::instrument(skip_all)]
pub fn submit_request(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    user_id: i64,
    input: &RequestInput,
    actor: &Actor,
    notify_staff: ReviewNotifier<'_>,
) -> Result<i64, MdfError> {
    conn.transaction(|conn| {
        lock_fund(conn, input.fund_id)?;
        let today = now().date();
        let fund = check_request(conn, program_id, org_id, input, 0, today)?;
        let at = now();
        let id: i64 = diesel::insert_into(mdf_requests::table)
            .values((
                RequestColumns::of(input),
                mdf_requests::partner_org_id.eq(org_id),
                mdf_requests::requested_by_user_id.eq(user_id),
                mdf_requests::status.eq(RequestStatus::Submitted),
                mdf_requests::created_at.eq(at),
                mdf_requests::updated_at.eq(at),
            ))
            .returning(mdf_requests::id)
            .get_result(conn)?;
        event(
            conn,
            id,
            actor,
            "submitted",
            &format!("Requested {} from {}.", input.requested, fund.name),
        )?;
        let request = request_by_id(conn, id)?;
        notify_staff(conn, &request, "A new MDF request")?;
        Ok(id)
    })
}

/// The partner corrects a request that was returned for more information; it goes back to the queue.
pub fn resubmit_request(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    request_id: i64,
    input: &RequestInput,
    actor: &Actor,
    notify_staff: ReviewNotifier<'_>,
) -> Result<(), MdfError> {
    conn.transaction(|conn| {
        lock_fund_of(conn, request_id)?;
        let request = find_for_org(conn, org_id, request_id)?.ok_or(MdfError::NotFound)?;
        if request.status() != RequestStatus::InfoRequested {
            return Err(MdfError::Refused(
                "Only a request returned for more information can be changed.".into(),
            ));
        }
        // The request holds its amount in its own fund only; moved to another fund, it holds nothing there yet.
        let own = if request.fund_id == input.fund_id {
            request.requested_minor
        } else {
            0
        };
        if request.fund_id != input.fund_id {
            lock_fund(conn, input.fund_id)?;
        }
        check_request(conn, program_id, org_id, input, own, now().date())?;
        let changed = diesel::update(
            mdf_requests::table
                .filter(mdf_requests::id.eq(request_id))
                .filter(mdf_requests::status.eq(RequestStatus::InfoRequested)),
        )
        .set((
            RequestColumns::of(input),
            mdf_requests::status.eq(RequestStatus::Submitted),
            mdf_requests::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(MdfError::Refused(
                "The request changed a moment ago; look again.".into(),
            ));
        }
        event(
            conn,
            request_id,
            actor,
            "resubmitted",
            "Updated and submitted again.",
        )?;
        let request = request_by_id(conn, request_id)?;
        notify_staff(conn, &request, "An MDF request updated after your question")?;
        Ok(())
    })
}

/// A staff decision on a request: approve all or part (which reserves it and sets the claim deadline), decline
/// or return for more information (both with a reason). Event, audit entry and the partner's email, in one
/// transaction.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(request_id = request_id))]
pub fn decide_request(
    conn: &mut DbConn,
    program: &Program,
    request_id: i64,
    decision: Decision,
    approved: Option<Money>,
    reason: &str,
    actor: &Actor,
    notify: MdfNotifier<'_>,
) -> Result<RequestStatus, MdfError> {
    conn.transaction(|conn| {
        lock_fund_of(conn, request_id)?;
        let request = find_request(conn, program.id, request_id)?.ok_or(MdfError::NotFound)?;
        let before = request.status();
        check_decision(before == RequestStatus::Submitted, decision, reason)
            .map_err(|r| MdfError::Refused(r.into()))?;
        let reason = reason.trim();
        let fund = find_fund(conn, program.id, request.fund_id)?.ok_or(MdfError::NotFound)?;
        let (after, approved_minor, due, detail) = match decision {
            Decision::Approve => {
                let approved = approved.unwrap_or(request.requested());
                if approved.currency != request.currency() {
                    return Err(MdfError::Field(
                        "approved",
                        format!("Approve an amount in {}.", request.currency),
                    ));
                }
                let position = position_of(conn, &fund, request.partner_org_id)?;
                let available = Money::new(
                    position.available() + request.requested_minor,
                    fund.currency(),
                );
                check_approved_amount(approved, request.requested(), available)
                    .map_err(|m| MdfError::Field("approved", m.into()))?;
                let due = claim_due_on(request.ends_on, program.mdf_claim_days);
                let part = if approved.minor < request.requested_minor {
                    format!(" (of {} requested)", request.requested())
                } else {
                    String::new()
                };
                (
                    RequestStatus::Approved,
                    Some(approved.minor),
                    Some(due),
                    format!("Approved {approved}{part}; claim by {due}."),
                )
            }
            Decision::Decline => (
                RequestStatus::Declined,
                None,
                None,
                format!("Declined: {reason}"),
            ),
            Decision::ReturnForInfo => (
                RequestStatus::InfoRequested,
                None,
                None,
                format!("Returned for more information: {reason}"),
            ),
        };
        let at = now();
        let changed = diesel::update(
            mdf_requests::table
                .filter(mdf_requests::id.eq(request_id))
                .filter(mdf_requests::status.eq(before)),
        )
        .set((
            mdf_requests::status.eq(after),
            mdf_requests::status_reason.eq(Some(reason).filter(|r| !r.is_empty())),
            mdf_requests::approved_minor.eq(approved_minor),
            mdf_requests::claim_due_on.eq(due),
            mdf_requests::decided_at.eq(Some(at)),
            mdf_requests::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(MdfError::Refused(
                "Someone else decided this request a moment ago; look again.".into(),
            ));
        }
        event(conn, request_id, actor, after.as_str(), &detail)?;
        audit_request(
            conn,
            actor,
            &format!("mdf.request_{}", decision.as_str()),
            &request,
            &Change {
                reason: Some(reason).filter(|r| !r.is_empty()),
                before: Some(before.as_str()),
                after: Some(&detail),
            },
        )?;
        if after == RequestStatus::Declined {
            settle_expired(conn, &fund, request.partner_org_id)?;
        }
        if after == RequestStatus::Approved {
            crate::webhooks::emit(
                conn,
                program.id,
                crate::webhooks::EventType::MdfRequestApproved,
                serde_json::json!({"request_id": request_id, "partner_id": request.partner_org_id,
                    "approved": approved_minor, "currency": request.currency, "claim_due_on": due.map(|d| d.to_string())}),
            )?;
        }
        let updated = request_by_id(conn, request_id)?;
        notify(
            conn,
            &updated,
            &MdfNotice::RequestDecided {
                decision,
                reason: reason.to_string(),
            },
        )?;
        Ok(after)
    })
}
