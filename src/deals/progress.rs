//! The partner's progress on an approved deal (stage, amount, close date, won, lost) and the vendor's confirmation
//! of a win, which writes the margin to the ledger once.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::deals::rules::DealStatus;
use crate::domain::money::Money;
use crate::ledger::rules::{EntryKind, EntryStatus};
use crate::platform::audit::{Actor, Change};
use crate::platform::db::schema::{deals, partner_orgs, tiers};
use crate::platform::db::{now, DbConn};
use crate::programs::Program;

use super::store::*;
use super::*;

/// What the partner changes on an approved deal. `None` leaves a value as it is.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub stage_id: Option<i64>,
    pub amount_minor: Option<i64>,
    pub expected_close_date: Option<NaiveDate>,
}

/// Moves an approved deal to another stage and updates its amount and close date; one event per change. Returns
/// how many things changed.
#[tracing::instrument(skip_all, fields(deal_id = deal_id))]
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
        let stages = super::config::stages(conn, deal.program_id)?;
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
                .filter(deals::status.eq(DealStatus::Approved)),
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
#[tracing::instrument(skip_all, fields(deal_id = deal_id))]
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
#[tracing::instrument(skip_all, fields(deal_id = deal_id))]
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

pub(crate) fn close_by_partner(
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
                .filter(deals::status.eq(DealStatus::Approved)),
        )
        .set((
            deals::status.eq(status),
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
#[tracing::instrument(skip_all, fields(deal_id = deal_id))]
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
                .filter(deals::status.eq(DealStatus::WonReported)),
        )
        .set((
            deals::status.eq(DealStatus::Won),
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
            crate::deals::rules::margin(won, tier.as_ref().map(|(n, b)| (n.as_str(), *b)));
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
        Ok(crate::deals::rules::win_confirmed_message(
            Money::new(margin_minor, deal.currency()),
            &rule,
        ))
    })
}

/// The vendor does not confirm a reported win (yet): the deal goes back to approved, with the reason.
#[tracing::instrument(skip_all, fields(deal_id = deal_id))]
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
                .filter(deals::status.eq(DealStatus::WonReported)),
        )
        .set((
            deals::status.eq(DealStatus::Approved),
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
