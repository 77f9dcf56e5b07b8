//! Claims after the activity: proof files, filing within the deadline and the reimbursement share, the staff's
//! decision (an approved claim writes its ledger entry once), and the deadline job's reminders and lapses.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::domain::money::Money;
use crate::ledger::rules::{EntryKind, EntryStatus};
use crate::mdf::rules::{
    check_claim, check_claim_proof_room, check_claim_window, check_decision, claim_reminder_due,
    ClaimStatus, Decision, RequestStatus,
};
use crate::platform::audit::{Actor, Change};
use crate::platform::db::schema::{
    deals, mdf_claim_deals, mdf_claims, mdf_funds, mdf_proof_files, mdf_requests,
};
use crate::platform::db::{is_unique_violation, now, DbConn};
use crate::programs::Program;

use super::store::*;
use super::uploads::{ProofUpload, Uploads};
use super::*;

/// Files a claim with the proof files received with it, all or nothing: the files are kept under their final names,
/// then recorded and the claim filed in one transaction; if anything refuses, the kept files are removed again.
#[allow(clippy::too_many_arguments)]
pub fn file_claim_with_proofs(
    conn: &mut DbConn,
    store: &Uploads,
    program: &Program,
    org_id: i64,
    user_id: i64,
    request_id: i64,
    mut files: Vec<ProofUpload>,
    input: &ClaimInput,
    actor: &Actor,
    notify_staff: ReviewNotifier<'_>,
) -> Result<i64, MdfError> {
    let mut kept = Vec::new();
    for file in &mut files {
        match store.keep(&mut file.file) {
            Ok(name) => kept.push(name),
            Err(e) => {
                kept.iter().for_each(|name| store.remove(name));
                return Err(anyhow::Error::new(e)
                    .context("cannot keep a proof file")
                    .into());
            }
        }
    }
    let proofs: Vec<NewProof<'_>> = files
        .iter()
        .zip(&kept)
        .map(|(file, stored_name)| NewProof {
            stored_name,
            original_name: &file.name,
            content_type: file.kind,
            size_bytes: file.file.size() as i64,
        })
        .collect();
    let filed = conn.transaction(|conn| {
        add_proofs(conn, org_id, request_id, user_id, &proofs, actor)?;
        file_claim(
            conn,
            program,
            org_id,
            user_id,
            request_id,
            input,
            actor,
            notify_staff,
        )
    });
    if filed.is_err() {
        kept.iter().for_each(|name| store.remove(name));
    }
    filed
}

/// Records files already written under the uploads directory as proof for one of the org's requests.
pub fn add_proofs(
    conn: &mut DbConn,
    org_id: i64,
    request_id: i64,
    user_id: i64,
    files: &[NewProof<'_>],
    actor: &Actor,
) -> Result<(), MdfError> {
    if files.is_empty() {
        return Ok(());
    }
    conn.transaction(|conn| {
        let request = find_for_org(conn, org_id, request_id)?.ok_or(MdfError::NotFound)?;
        let claim = claim_of(conn, request_id)?;
        let open = request.status() == RequestStatus::Approved
            && claim
                .as_ref()
                .is_none_or(|c| c.status() == ClaimStatus::InfoRequested);
        if !open {
            return Err(MdfError::Refused(
                "Proof can be added while the claim can still be filed or corrected.".into(),
            ));
        }
        let existing = proof_files(conn, request_id)?;
        check_claim_proof_room(
            existing.len(),
            existing.iter().map(|f| f.size_bytes.max(0) as u64).sum(),
            files.len(),
            files.iter().map(|f| f.size_bytes.max(0) as u64).sum(),
        )
        .map_err(|r| MdfError::Field("proof", r.into()))?;
        let at = now();
        for file in files {
            diesel::insert_into(mdf_proof_files::table)
                .values((
                    mdf_proof_files::request_id.eq(request_id),
                    mdf_proof_files::partner_org_id.eq(org_id),
                    mdf_proof_files::stored_name.eq(file.stored_name),
                    mdf_proof_files::original_name.eq(file.original_name),
                    mdf_proof_files::content_type.eq(file.content_type),
                    mdf_proof_files::size_bytes.eq(file.size_bytes),
                    mdf_proof_files::uploaded_by_user_id.eq(user_id),
                    mdf_proof_files::uploaded_at.eq(at),
                ))
                .execute(conn)?;
        }
        let names: Vec<&str> = files.iter().map(|f| f.original_name).collect();
        event(
            conn,
            request_id,
            actor,
            "proof_added",
            &format!("Proof added: {}.", names.join(", ")),
        )?;
        Ok(())
    })
}

/// Files (or, after a return for information, files again) the claim of an approved request. Refused, naming the
/// field, when the amount is over the approval or the reimbursement rate, outside the claim window, without
/// proof, or naming a deal that is not the org's.
/// Whose deals a claimant may link: the org's, or only their own when the program keeps reps to their own deals
/// (`deal_reps_see_org` off) and the claimant is a rep rather than the org's partner admin.
pub fn claim_deal_scope(
    conn: &mut DbConn,
    program: &Program,
    user_id: i64,
) -> QueryResult<Option<i64>> {
    if program.deal_reps_see_org {
        return Ok(None);
    }
    let role = crate::accounts::store::users::find(conn, user_id)?.map(|u| u.role());
    Ok((role == Some(crate::accounts::role::Role::PartnerUser)).then_some(user_id))
}

#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(org_id = org_id, request_id = request_id))]
pub fn file_claim(
    conn: &mut DbConn,
    program: &Program,
    org_id: i64,
    user_id: i64,
    request_id: i64,
    input: &ClaimInput,
    actor: &Actor,
    notify_staff: ReviewNotifier<'_>,
) -> Result<i64, MdfError> {
    conn.transaction(|conn| {
        lock_fund_of(conn, request_id)?;
        let request = find_for_org(conn, org_id, request_id)?.ok_or(MdfError::NotFound)?;
        if request.status() != RequestStatus::Approved {
            return Err(MdfError::Refused(format!(
                "Claims are filed against approved requests; this one is {}.",
                request.status().label().to_lowercase()
            )));
        }
        let existing = claim_of(conn, request_id)?;
        if let Some(claim) = &existing {
            if claim.status() != ClaimStatus::InfoRequested {
                return Err(MdfError::Refused(format!(
                    "This request's claim was filed already ({}).",
                    claim.status().label().to_lowercase()
                )));
            }
        }
        let due = request.claim_due_on.expect("set on approval");
        check_claim_window(request.ends_on, due, now().date())
            .map_err(|r| MdfError::Refused(r.into()))?;
        let approved = request.approved().expect("set on approval");
        if let Some((field, message)) = check_claim(
            approved,
            input.actual_cost,
            input.claimed,
            program.mdf_reimbursement_bps,
        )
        .into_iter()
        .next()
        {
            return Err(MdfError::Field(field, message));
        }
        if proof_files(conn, request_id)?.is_empty() {
            return Err(MdfError::Field(
                "proof",
                "Attach proof of performance: invoices, photos or reports (PDF, PNG or JPEG)."
                    .into(),
            ));
        }
        let scope = claim_deal_scope(conn, program, user_id)?;
        let mut own = deals::table
            .filter(deals::partner_org_id.eq(org_id))
            .filter(deals::id.eq_any(&input.deal_ids))
            .into_boxed();
        if let Some(registered_by) = scope {
            own = own.filter(deals::registered_by_user_id.eq(registered_by));
        }
        let own: Vec<i64> = own.select(deals::id).load(conn)?;
        if own.len() != input.deal_ids.len() {
            return Err(MdfError::Field(
                "deal_ids",
                if scope.is_some() {
                    "Link only deals you registered."
                } else {
                    "Link only deals your organisation registered."
                }
                .into(),
            ));
        }
        let at = now();
        let columns = ClaimColumns {
            submitted_by_user_id: user_id,
            actual_cost_minor: input.actual_cost.minor,
            claimed_minor: input.claimed.minor,
            leads_generated: input.leads_generated,
            results: &input.results,
            status: ClaimStatus::Submitted.as_str(),
            submitted_at: at,
            updated_at: at,
        };
        let claim_id = save_claim(conn, existing.as_ref(), request_id, &columns, at)?;
        link_deals(conn, claim_id, &input.deal_ids)?;
        event(
            conn,
            request_id,
            actor,
            "claim_submitted",
            &format!(
                "{} {} of actual cost {}; {} leads, {} linked deal{}.",
                if existing.is_some() {
                    "Claim corrected and filed again:"
                } else {
                    "Claim filed:"
                },
                input.claimed,
                input.actual_cost,
                input.leads_generated,
                input.deal_ids.len(),
                if input.deal_ids.len() == 1 { "" } else { "s" }
            ),
        )?;
        notify_staff(conn, &request, "An MDF claim")?;
        Ok(claim_id)
    })
}

/// A staff decision on a claim. Approval writes the `mdf_reimbursement` ledger entry (approved, to be paid with
/// the next payout) and completes the request; rejection closes the request and frees its reservation; a return
/// lets the partner correct the claim.
#[tracing::instrument(skip_all, fields(request_id = request_id))]
pub fn decide_claim(
    conn: &mut DbConn,
    program: &Program,
    request_id: i64,
    decision: Decision,
    reason: &str,
    actor: &Actor,
    notify: MdfNotifier<'_>,
) -> Result<ClaimStatus, MdfError> {
    conn.transaction(|conn| {
        lock_fund_of(conn, request_id)?;
        let request = find_request(conn, program.id, request_id)?.ok_or(MdfError::NotFound)?;
        let claim = claim_of(conn, request_id)?.ok_or(MdfError::NotFound)?;
        check_decision(claim.status() == ClaimStatus::Submitted, decision, reason)
            .map_err(|r| MdfError::Refused(r.into()))?;
        let reason = reason.trim();
        let after = match decision {
            Decision::Approve => ClaimStatus::Approved,
            Decision::Decline => ClaimStatus::Rejected,
            Decision::ReturnForInfo => ClaimStatus::InfoRequested,
        };
        let at = now();
        let changed = diesel::update(
            mdf_claims::table
                .filter(mdf_claims::id.eq(claim.id))
                .filter(mdf_claims::status.eq(ClaimStatus::Submitted)),
        )
        .set((
            mdf_claims::status.eq(after),
            mdf_claims::status_reason.eq(Some(reason).filter(|r| !r.is_empty())),
            mdf_claims::decided_at.eq(Some(at)),
            mdf_claims::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(MdfError::Refused(
                "Someone else decided this claim a moment ago; look again.".into(),
            ));
        }
        let request_after = match after {
            ClaimStatus::Approved => Some(RequestStatus::Completed),
            ClaimStatus::Rejected => Some(RequestStatus::Closed),
            _ => None,
        };
        if let Some(status) = request_after {
            diesel::update(
                mdf_requests::table
                    .filter(mdf_requests::id.eq(request_id))
                    .filter(mdf_requests::status.eq(RequestStatus::Approved)),
            )
            .set((
                mdf_requests::status.eq(status),
                mdf_requests::status_reason
                    .eq((status == RequestStatus::Closed)
                        .then(|| format!("Claim rejected: {reason}"))),
                mdf_requests::updated_at.eq(at),
            ))
            .execute(conn)?;
        }
        let detail = match after {
            ClaimStatus::Approved => reimburse(conn, program.id, &request, &claim, at)?,
            ClaimStatus::Rejected => format!("Claim rejected: {reason}"),
            _ => format!("Claim returned for more information: {reason}"),
        };
        event(
            conn,
            request_id,
            actor,
            &format!("claim_{}", after.as_str()),
            &detail,
        )?;
        audit_request(
            conn,
            actor,
            &format!("mdf.claim_{}", decision.as_str()),
            &request,
            &Change {
                reason: Some(reason).filter(|r| !r.is_empty()),
                before: Some(ClaimStatus::Submitted.as_str()),
                after: Some(&detail),
            },
        )?;
        if request_after.is_some() {
            let fund = find_fund(conn, program.id, request.fund_id)?.ok_or(MdfError::NotFound)?;
            settle_expired(conn, &fund, request.partner_org_id)?;
        }
        let updated = request_by_id(conn, request_id)?;
        notify(
            conn,
            &updated,
            &MdfNotice::ClaimDecided {
                decision,
                reason: reason.to_string(),
            },
        )?;
        Ok(after)
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Expiry and deadlines

#[derive(Debug, Default)]
pub struct DeadlineRun {
    pub reminded: usize,
    pub lapsed: usize,
}

/// Reminds partners of approved requests whose claim is due within a week and not filed, once each; closes the
/// requests whose deadline passed without a claim (their reservation is released).
pub fn run_claim_deadlines(
    conn: &mut DbConn,
    program_id: i64,
    today: NaiveDate,
    notify: MdfNotifier<'_>,
) -> Result<DeadlineRun, MdfError> {
    let open: Vec<MdfRequest> = mdf_requests::table
        .inner_join(mdf_funds::table)
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_requests::status.eq(RequestStatus::Approved))
        .select(MdfRequest::as_select())
        .load(conn)?;
    let mut run = DeadlineRun::default();
    let system = Actor::system("MDF deadlines");
    for request in open {
        let due = request.claim_due_on.expect("set on approval");
        let claim = claim_of(conn, request.id)?;
        // A claim in review or decided is out of the deadline's reach; a returned one is still the partner's to do.
        let unfiled = claim
            .as_ref()
            .is_none_or(|c| c.status() == ClaimStatus::InfoRequested);
        if !unfiled {
            continue;
        }
        if today > due {
            conn.transaction(|conn| {
                lock_fund(conn, request.fund_id)?;
                let changed = diesel::update(
                    mdf_requests::table
                        .filter(mdf_requests::id.eq(request.id))
                        .filter(mdf_requests::status.eq(RequestStatus::Approved)),
                )
                .set((
                    mdf_requests::status.eq(RequestStatus::Closed),
                    mdf_requests::status_reason.eq(Some(format!("No claim was filed by {due}."))),
                    mdf_requests::updated_at.eq(now()),
                ))
                .execute(conn)?;
                if changed == 0 {
                    return Ok::<_, MdfError>(());
                }
                event(
                    conn,
                    request.id,
                    &system,
                    "lapsed",
                    &format!("No claim was filed by {due}; the reservation is released."),
                )?;
                let fund =
                    find_fund(conn, program_id, request.fund_id)?.ok_or(MdfError::NotFound)?;
                settle_expired(conn, &fund, request.partner_org_id)?;
                let updated = request_by_id(conn, request.id)?;
                notify(conn, &updated, &MdfNotice::Lapsed)?;
                run.lapsed += 1;
                Ok(())
            })?;
        } else if request.claim_reminded_at.is_none() && claim_reminder_due(due, today) {
            conn.transaction(|conn| {
                let changed = diesel::update(
                    mdf_requests::table
                        .filter(mdf_requests::id.eq(request.id))
                        .filter(mdf_requests::claim_reminded_at.is_null()),
                )
                .set(mdf_requests::claim_reminded_at.eq(Some(now())))
                .execute(conn)?;
                if changed == 0 {
                    return Ok::<_, MdfError>(());
                }
                event(
                    conn,
                    request.id,
                    &system,
                    "claim_reminder",
                    &format!("Reminded that the claim is due by {due}."),
                )?;
                notify(conn, &request, &MdfNotice::ClaimReminder)?;
                run.reminded += 1;
                Ok(())
            })?;
        }
    }
    Ok(run)
}

/// Writes a first claim, or files again one the staff asked more information about; guarded on the status read.
fn save_claim(
    conn: &mut DbConn,
    existing: Option<&Claim>,
    request_id: i64,
    columns: &ClaimColumns<'_>,
    at: NaiveDateTime,
) -> Result<i64, MdfError> {
    match existing {
        Some(claim) => {
            let changed = diesel::update(
                mdf_claims::table
                    .filter(mdf_claims::id.eq(claim.id))
                    .filter(mdf_claims::status.eq(ClaimStatus::InfoRequested)),
            )
            .set(columns)
            .execute(conn)?;
            if changed == 0 {
                return Err(MdfError::Refused(
                    "The claim changed a moment ago; look again.".into(),
                ));
            }
            diesel::delete(mdf_claim_deals::table.filter(mdf_claim_deals::claim_id.eq(claim.id)))
                .execute(conn)?;
            Ok(claim.id)
        }
        None => {
            let inserted = conn.transaction(|conn| {
                diesel::insert_into(mdf_claims::table)
                    .values((
                        columns,
                        mdf_claims::request_id.eq(request_id),
                        mdf_claims::created_at.eq(at),
                    ))
                    .returning(mdf_claims::id)
                    .get_result::<i64>(conn)
            });
            match inserted {
                Ok(id) => Ok(id),
                Err(e) if is_unique_violation(&e) => Err(MdfError::Refused(
                    "This request's claim was filed a moment ago.".into(),
                )),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// The won deals a claim names as its results.
fn link_deals(conn: &mut DbConn, claim_id: i64, deal_ids: &[i64]) -> QueryResult<()> {
    for deal_id in deal_ids {
        diesel::insert_into(mdf_claim_deals::table)
            .values((
                mdf_claim_deals::claim_id.eq(claim_id),
                mdf_claim_deals::deal_id.eq(deal_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// An approved claim's money: the reimbursement entry in the ledger (approved, so the next payout takes it) and the
/// `mdf.claim_approved` webhook. Returns the timeline's line.
fn reimburse(
    conn: &mut DbConn,
    program_id: i64,
    request: &MdfRequest,
    claim: &Claim,
    at: NaiveDateTime,
) -> Result<String, MdfError> {
    let claimed = Money::new(claim.claimed_minor, request.currency());
    let explanation = format!("{}: reimbursement of {claimed} approved", request.label());
    crate::ledger::store::append(
        conn,
        &crate::ledger::store::NewEntry {
            partner_org_id: request.partner_org_id,
            amount_minor: claim.claimed_minor,
            currency: &request.currency,
            kind: EntryKind::MdfReimbursement,
            status: EntryStatus::Approved,
            available_at: at,
            source_type: "mdf_claim",
            source_id: claim.id,
            conversion_id: None,
            rule_id: None,
            explanation: &explanation,
        },
    )?;
    crate::webhooks::emit(
        conn,
        program_id,
        crate::webhooks::EventType::MdfClaimApproved,
        serde_json::json!({"request_id": request.id, "claim_id": claim.id,
            "partner_id": request.partner_org_id, "amount": claim.claimed_minor, "currency": request.currency}),
    )?;
    Ok(format!(
        "Claim approved: {claimed} will be paid with the next payout."
    ))
}
