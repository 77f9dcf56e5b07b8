//! Market development funds in the partner portal: `/portal/mdf` (the org's funds and requests), `/portal/mdf/new`
//! (a request, which cannot exceed what is available), `/portal/mdf/{id}` (the request, its timeline and its
//! claim with proof of performance) and the proof files themselves, served only to their org (and to staff under
//! `/admin/mdf/proof/{id}`).

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use futures_util::StreamExt;

use crate::domain::money::{percent_text, Money};
use crate::mdf::forms::{ClaimForm, RequestForm};
use crate::mdf::rules::{
    check_claim_window, claim_limit, clean_file_name, sniff, ActivityType, ClaimStatus,
    FundPosition, RequestStatus, MAX_CLAIM_FORM_BYTES, MAX_PROOF_BYTES, MAX_PROOF_BYTES_PER_FORM,
    MAX_PROOF_FILES_PER_FORM,
};
use crate::mdf::uploads::{ProofUpload, Uploads};
use crate::mdf::{Claim, Fund, LinkedDeal, MdfError, MdfEvent, MdfRequest, ProofFile, RequestRow};
use crate::partners::store::PartnerOverview;
use crate::platform::db::{self, DbConn};
use crate::platform::http::{
    db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::programs::Program;
use crate::web::guard::CurrentUser;
use crate::web::portal::{Channel, ChannelFeature};
use crate::web::{Ctx, State};

pub fn portal_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/mdf", web::get().to(home))
        .route("/mdf/new", web::get().to(new_form))
        .route("/mdf/new", web::post().to(submit))
        .route("/mdf/proof/{id}", web::get().to(proof))
        .route("/mdf/{id}", web::get().to(show))
        .route("/mdf/{id}/edit", web::get().to(edit_form))
        .route("/mdf/{id}/edit", web::post().to(edit_submit))
        .route("/mdf/{id}/claim", web::post().to(claim));
}

fn review_notifier(
    base_url: String,
) -> impl Fn(&mut DbConn, &MdfRequest, &str) -> Result<(), crate::platform::mail::NotifyError> {
    move |conn, request, what| crate::mdf::notices::mdf_review(conn, &base_url, request, what)
}

/// The org asking, which must be an approved reseller or referral partner.
struct Access {
    program: Program,
    org_id: i64,
    /// The signed-in person, whose deals a claim may name when reps see only their own.
    user_id: i64,
}

impl ChannelFeature for Access {
    // "Market development funds is..." would read badly; the singular names the feature.
    const NAME: &'static str = "The MDF program";

    fn of(user: &CurrentUser, partner: PartnerOverview) -> Self {
        Access {
            user_id: user.0.id,
            org_id: partner.org.id,
            program: partner.program,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The org's funds and requests

#[derive(Template)]
#[template(path = "portal/mdf.html")]
struct HomePage {
    ctx: PageContext,
    funds: Vec<(Fund, FundPosition)>,
    requests: Vec<RequestRow>,
    pager: crate::platform::http::pager::Pager,
    reimbursement: String,
    claim_days: i64,
}

async fn home(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, _): Channel<Access>,
    mut pager: crate::platform::http::pager::Pager,
) -> Result<HttpResponse, AppError> {
    let (program_id, org_id) = (access.program.id, access.org_id);
    let window = pager.window();
    let (funds, requests) = db(&state.pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            crate::mdf::org_funds(conn, program_id, org_id)?,
            crate::mdf::org_requests(conn, program_id, org_id, window)?,
        ))
    })
    .await?;
    crate::platform::http::page(&HomePage {
        ctx,
        funds,
        requests: pager.keep(requests),
        pager,
        reimbursement: percent_text(access.program.mdf_reimbursement_bps),
        claim_days: access.program.mdf_claim_days,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

#[derive(Template)]
#[template(path = "portal/mdf_form.html")]
struct FormPage {
    ctx: PageContext,
    heading: String,
    action: String,
    funds: Vec<(Fund, FundPosition)>,
    form: RequestForm,
    errors: FieldErrors,
    /// What the staff asked when they returned the request.
    question: Option<String>,
}

impl FormPage {
    fn activities(&self) -> &'static [ActivityType] {
        ActivityType::ALL
    }

    fn fund_selected(&self, fund: &Fund) -> bool {
        self.form.fund_id == fund.id.to_string()
            || (self.funds.len() == 1 && self.form.fund_id.is_empty())
    }
}

/// The funds the org can request from today, with what it has available in each; `keep` also lists a request's
/// own fund (with its awaiting amount counted as free) when it is corrected.
async fn open_funds(
    state: &State,
    access: &Access,
    keep: Option<(i64, i64)>,
) -> Result<Vec<(Fund, FundPosition)>, AppError> {
    let (program_id, org_id) = (access.program.id, access.org_id);
    db(&state.pool, move |conn| {
        let today = db::now().date();
        let mut out = Vec::new();
        for fund in crate::mdf::funds(conn, program_id)? {
            if !fund.open_on(today) {
                continue;
            }
            let mut position = crate::mdf::position_of(conn, &fund, org_id)?;
            if let Some((fund_id, own)) = keep {
                if fund_id == fund.id {
                    position.awaiting -= own;
                }
            }
            if position.allocated > 0 {
                out.push((fund, position));
            }
        }
        Ok::<_, diesel::result::Error>(out)
    })
    .await
}

async fn form_page(
    ctx: PageContext,
    funds: Vec<(Fund, FundPosition)>,
    form: RequestForm,
    errors: FieldErrors,
    existing: Option<&MdfRequest>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (heading, action, question) = match existing {
        Some(request) => (
            format!("Update request #{}", request.id),
            format!("/portal/mdf/{}/edit", request.id),
            request.status_reason.clone(),
        ),
        None => (
            "Request market development funds".to_string(),
            "/portal/mdf/new".to_string(),
            None,
        ),
    };
    render(
        status,
        &FormPage {
            ctx,
            heading,
            action,
            funds,
            form,
            errors,
            question,
        },
    )
}

async fn new_form(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, _): Channel<Access>,
) -> Result<HttpResponse, AppError> {
    let funds = open_funds(&state, &access, None).await?;
    let form = RequestForm {
        activity_type: ActivityType::Event.as_str().into(),
        ..Default::default()
    };
    form_page(
        ctx,
        funds,
        form,
        FieldErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// Moves a repository refusal that names a field onto the form; other errors stay errors.
fn field_error(error: MdfError, errors: &mut FieldErrors) -> Result<(), AppError> {
    match error {
        MdfError::Field(field, message) => {
            errors.add(field, message);
            Ok(())
        }
        other => Err(other.into()),
    }
}

async fn submit(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, user): Channel<Access>,
    session: TypedSession,
    web::Form(form): web::Form<RequestForm>,
) -> Result<HttpResponse, AppError> {
    save_request(ctx, &state, &user, &session, &access, form, None).await
}

/// Submits a new request, or a returned one corrected; any problem re-renders the form with what was typed.
async fn save_request(
    ctx: PageContext,
    state: &State,
    user: &CurrentUser,
    session: &TypedSession,
    access: &Access,
    form: RequestForm,
    existing: Option<MdfRequest>,
) -> Result<HttpResponse, AppError> {
    let keep = existing.as_ref().map(|r| (r.fund_id, r.requested_minor));
    let funds = open_funds(state, access, keep).await?;
    let input = match form.parse(&funds) {
        Ok(input) => input,
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return form_page(ctx, funds, form, errors, existing.as_ref(), status).await;
        }
    };
    let (program_id, org_id, user_id, actor) =
        (access.program.id, access.org_id, user.0.id, user.actor());
    let existing_id = existing.as_ref().map(|r| r.id);
    let notify = review_notifier(state.settings.base_url.clone());
    let result = db(&state.pool, move |conn| {
        Ok::<_, AppError>(match existing_id {
            None => crate::mdf::submit_request(
                conn, program_id, org_id, user_id, &input, &actor, &notify,
            ),
            Some(id) => {
                crate::mdf::resubmit_request(conn, program_id, org_id, id, &input, &actor, &notify)
                    .map(|()| id)
            }
        })
    })
    .await?;
    match result {
        Ok(id) => {
            session.success(if existing_id.is_some() {
                "Request updated and submitted again."
            } else {
                "Request submitted. You will hear by email when it is decided."
            });
            Ok(redirect(&format!("/portal/mdf/{id}")))
        }
        Err(error) => {
            let mut errors = FieldErrors::default();
            field_error(error, &mut errors)?;
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            form_page(ctx, funds, form, errors, existing.as_ref(), status).await
        }
    }
}

async fn find_request(state: &State, access: &Access, id: i64) -> Result<MdfRequest, AppError> {
    let org_id = access.org_id;
    db(&state.pool, move |conn| {
        crate::mdf::find_for_org(conn, org_id, id)
    })
    .await?
    .ok_or(AppError::NotFound)
}

fn returned(request: &MdfRequest) -> Result<(), AppError> {
    if request.status() == RequestStatus::InfoRequested {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "Only a request returned for more information can be changed.".into(),
        ))
    }
}

async fn edit_form(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, _): Channel<Access>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let request = find_request(&state, &access, path.into_inner()).await?;
    returned(&request)?;
    let funds = open_funds(
        &state,
        &access,
        Some((request.fund_id, request.requested_minor)),
    )
    .await?;
    form_page(
        ctx,
        funds,
        RequestForm::of(&request),
        FieldErrors::default(),
        Some(&request),
        StatusCode::OK,
    )
    .await
}

async fn edit_submit(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, user): Channel<Access>,
    session: TypedSession,
    path: web::Path<i64>,
    web::Form(form): web::Form<RequestForm>,
) -> Result<HttpResponse, AppError> {
    let request = find_request(&state, &access, path.into_inner()).await?;
    returned(&request)?;
    save_request(ctx, &state, &user, &session, &access, form, Some(request)).await
}

// ---------------------------------------------------------------------------------------------------------------
// A request, its claim and proof

/// Everything a request's page shows, for the partner and for staff.
pub struct RequestDetails {
    pub request: MdfRequest,
    pub fund: Fund,
    pub org_name: String,
    pub position: FundPosition,
    pub claim: Option<Claim>,
    pub files: Vec<ProofFile>,
    pub linked: Vec<LinkedDeal>,
    pub events: Vec<MdfEvent>,
}

impl RequestDetails {
    pub fn load(conn: &mut DbConn, request: MdfRequest) -> Result<Self, AppError> {
        let fund = crate::mdf::fund_of(conn, &request)?;
        let claim = crate::mdf::claim_of(conn, request.id)?;
        let linked = match &claim {
            Some(c) => crate::mdf::linked_deals(conn, c.id)?,
            None => Vec::new(),
        };
        Ok(Self {
            org_name: crate::mdf::org_name(conn, request.partner_org_id)?,
            position: crate::mdf::position_of(conn, &fund, request.partner_org_id)?,
            files: crate::mdf::proof_files(conn, request.id)?,
            events: crate::mdf::events(conn, request.id)?,
            claim,
            linked,
            fund,
            request,
        })
    }

    pub fn claim_status(&self) -> Option<ClaimStatus> {
        self.claim.as_ref().map(Claim::status)
    }

    /// The claim can be filed (or filed again after a return) by the partner.
    pub fn claim_open(&self) -> bool {
        self.request.status() == RequestStatus::Approved
            && self
                .claim
                .as_ref()
                .is_none_or(|c| c.status() == ClaimStatus::InfoRequested)
    }

    /// Why a claim cannot be filed today, when the window is shut.
    pub fn window_problem(&self) -> Option<String> {
        let due = self.request.claim_due_on?;
        check_claim_window(self.request.ends_on, due, db::now().date())
            .err()
            .map(String::from)
    }
}

#[derive(Template)]
#[template(path = "portal/mdf_request.html")]
struct RequestPage {
    ctx: PageContext,
    d: RequestDetails,
    deals: Vec<(i64, String)>,
    form: ClaimForm,
    errors: FieldErrors,
    reimbursement_bps: i64,
    max_file_mib: u64,
    max_files: usize,
    max_claim_files: usize,
}

impl RequestPage {
    fn rate(&self) -> String {
        percent_text(self.reimbursement_bps)
    }

    fn deal_checked(&self, id: &i64) -> bool {
        self.form.deal_ids.contains(id)
    }

    /// The most the partner may claim for a given actual cost, as a sentence.
    fn limit_text(&self) -> String {
        let approved = self
            .d
            .request
            .approved()
            .unwrap_or(self.d.request.requested());
        let cost = Money::parse(&self.form.actual_cost, approved.currency).ok();
        match cost.filter(|c| c.minor > 0) {
            Some(cost) => format!(
                "For an actual cost of {cost} you can claim up to {}.",
                claim_limit(approved, cost, self.reimbursement_bps)
            ),
            None => format!(
                "You can claim up to {approved}, and at most {} of the actual cost.",
                self.rate()
            ),
        }
    }
}

async fn request_page(
    ctx: PageContext,
    state: &State,
    access: &Access,
    request: MdfRequest,
    form: ClaimForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (org_id, user_id, program) = (access.org_id, access.user_id, access.program.clone());
    let (d, deals) = db(&state.pool, move |conn| {
        let scope = crate::mdf::claim_deal_scope(conn, &program, user_id)?;
        Ok::<_, AppError>((
            RequestDetails::load(conn, request)?,
            crate::mdf::linkable_deals(conn, org_id, scope)?,
        ))
    })
    .await?;
    render(
        status,
        &RequestPage {
            ctx,
            d,
            deals,
            form,
            errors,
            reimbursement_bps: access.program.mdf_reimbursement_bps,
            max_file_mib: MAX_PROOF_BYTES / 1024 / 1024,
            max_files: MAX_PROOF_FILES_PER_FORM,
            max_claim_files: crate::mdf::rules::MAX_PROOF_FILES_PER_CLAIM,
        },
    )
}

async fn show(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, _): Channel<Access>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let request = find_request(&state, &access, path.into_inner()).await?;
    // A claim returned for more information opens with what was filed.
    let claim = {
        let id = request.id;
        db(&state.pool, move |conn| {
            let claim = crate::mdf::claim_of(conn, id)?;
            let deals = match &claim {
                Some(c) => crate::mdf::linked_deals(conn, c.id)?,
                None => Vec::new(),
            };
            Ok::<_, diesel::result::Error>(claim.map(|c| (c, deals)))
        })
        .await?
    };
    let form = match claim {
        Some((c, deals)) => {
            let currency = request.currency();
            ClaimForm {
                actual_cost: Money::new(c.actual_cost_minor, currency).amount_text(),
                claimed: Money::new(c.claimed_minor, currency).amount_text(),
                leads_generated: c.leads_generated.to_string(),
                results: c.results,
                deal_ids: deals.iter().map(|d| d.id).collect(),
            }
        }
        None => ClaimForm::default(),
    };
    request_page(
        ctx,
        &state,
        &access,
        request,
        form,
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

/// Text fields of the claim form are short; anything longer is refused rather than held.
const MAX_TEXT_FIELD_BYTES: usize = 20_000;
/// More deal links than any real claim has are not read.
const MAX_LINKED_DEALS: usize = 200;

/// What the claim form has received so far, to hold it to the per-form limits.
#[derive(Default)]
struct Received {
    /// Every byte of the form, fields included.
    bytes: u64,
    files: usize,
    file_bytes: u64,
}

impl Received {
    fn count(&mut self, chunk: &[u8]) -> Result<(), AppError> {
        self.bytes += chunk.len() as u64;
        if self.bytes > MAX_CLAIM_FORM_BYTES {
            return Err(AppError::PayloadTooLarge(
                (MAX_CLAIM_FORM_BYTES / 1024) as usize,
            ));
        }
        Ok(())
    }
}

fn unreadable(e: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(format!("The upload could not be read: {e}"))
}

/// A text field, or `None` when it is longer than any claim field may be (the rest is read and dropped).
async fn read_text(
    field: &mut actix_multipart::Field,
    received: &mut Received,
) -> Result<Option<String>, AppError> {
    let mut bytes = Vec::new();
    let mut too_long = false;
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(unreadable)?;
        received.count(&chunk)?;
        if too_long || bytes.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
            too_long = true;
            continue;
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((!too_long).then(|| String::from_utf8_lossy(&bytes).trim().to_string()))
}

/// One proof file, streamed to a partial file as it arrives; `Err(message)` when it is refused (its partial file
/// is removed when dropped). Past a limit the rest of the file is read and dropped, so the page can still answer.
async fn receive_proof(
    field: &mut actix_multipart::Field,
    file_name: &str,
    store: &Uploads,
    received: &mut Received,
) -> Result<Result<Option<ProofUpload>, String>, AppError> {
    const MIB: u64 = 1024 * 1024;
    let mut pending = Some(
        store
            .begin()
            .map_err(|e| AppError::caused("cannot open a file for an upload", e))?,
    );
    let mut refusal = None;
    if received.files == MAX_PROOF_FILES_PER_FORM {
        pending = None;
        refusal = Some(format!(
            "{file_name} was not taken: attach at most {MAX_PROOF_FILES_PER_FORM} files at a time."
        ));
    }
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(unreadable)?;
        received.count(&chunk)?;
        let Some(file) = pending.as_mut() else {
            continue;
        };
        if file.size() + chunk.len() as u64 > MAX_PROOF_BYTES {
            pending = None;
            refusal = Some(format!(
                "{file_name} is larger than {} MiB.",
                MAX_PROOF_BYTES / MIB
            ));
        } else if received.file_bytes + chunk.len() as u64 > MAX_PROOF_BYTES_PER_FORM {
            pending = None;
            refusal = Some(format!(
                "{file_name} was not taken: the files of one form may be {} MiB together.",
                MAX_PROOF_BYTES_PER_FORM / MIB
            ));
        } else {
            received.file_bytes += chunk.len() as u64;
            file.write(&chunk)
                .map_err(|e| AppError::caused("cannot write an upload", e))?;
        }
    }
    if let Some(refusal) = refusal {
        return Ok(Err(refusal));
    }
    let file = pending.expect("kept while nothing refused it");
    // An empty file input still sends a part, without a name.
    if file.size() == 0 {
        return Ok(if file_name.is_empty() {
            Ok(None)
        } else {
            Err(format!("{file_name} is empty."))
        });
    }
    received.files += 1;
    Ok(match sniff(file.head()) {
        Some(kind) => Ok(Some(ProofUpload {
            name: file_name.to_string(),
            kind: kind.as_str(),
            file,
        })),
        None => Err(format!(
            "{file_name} is not a PDF, PNG or JPEG file (judged by its content, not its name)."
        )),
    })
}

/// Reads the claim form, streaming proof files to partial files under the uploads directory. Files over a limit
/// or of another type are reported per file; nothing a refused file sent is kept.
async fn read_claim_form(
    mut multipart: Multipart,
    store: &Uploads,
    errors: &mut FieldErrors,
) -> Result<(ClaimForm, Vec<ProofUpload>), AppError> {
    let mut form = ClaimForm::default();
    let mut uploads = Vec::new();
    let mut refused = Vec::new();
    let mut received = Received::default();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(unreadable)?;
        let name = field.name().unwrap_or("").to_string();
        if name == "proof" {
            let Some(raw_file_name) = field
                .content_disposition()
                .and_then(|d| d.get_filename())
                .map(str::to_string)
            else {
                read_text(&mut field, &mut received).await?;
                continue;
            };
            let file_name = if raw_file_name.is_empty() {
                String::new()
            } else {
                clean_file_name(&raw_file_name)
            };
            match receive_proof(&mut field, &file_name, store, &mut received).await? {
                Ok(Some(upload)) => uploads.push(upload),
                Ok(None) => {}
                Err(message) => refused.push(message),
            }
            continue;
        }
        let Some(text) = read_text(&mut field, &mut received).await? else {
            errors.add(
                if name == "results" {
                    "results"
                } else {
                    "claim"
                },
                format!("A field of this form is longer than {MAX_TEXT_FIELD_BYTES} characters."),
            );
            continue;
        };
        match name.as_str() {
            "actual_cost" => form.actual_cost = text,
            "claimed" => form.claimed = text,
            "leads_generated" => form.leads_generated = text,
            "results" => form.results = text,
            "deal_ids" if form.deal_ids.len() < MAX_LINKED_DEALS => {
                if let Ok(id) = text.parse() {
                    form.deal_ids.push(id);
                }
            }
            _ => {}
        }
    }
    if !refused.is_empty() {
        errors.add("proof", refused.join(" "));
    }
    Ok((form, uploads))
}

/// Adds, when a refused form carried files, that none of them was kept.
fn note_files_not_kept(had_files: bool, errors: &mut FieldErrors) {
    if had_files {
        errors.append(
            "proof",
            "Nothing from a refused form is kept: attach your files again.",
        );
    }
}

async fn claim(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, user): Channel<Access>,
    session: TypedSession,
    path: web::Path<i64>,
    multipart: Multipart,
) -> Result<HttpResponse, AppError> {
    let request = find_request(&state, &access, path.into_inner()).await?;
    let mut errors = FieldErrors::default();
    let store = Uploads::new(&state.settings.data_dir);
    let (form, uploads) = read_claim_form(multipart, &store, &mut errors).await?;
    let (org_id, user_id, request_id) = (access.org_id, user.0.id, request.id);
    let Some(input) = form.check(request.currency(), &mut errors) else {
        // The received files are dropped here, and with them their partial files.
        note_files_not_kept(!uploads.is_empty(), &mut errors);
        return request_page(
            ctx,
            &state,
            &access,
            request,
            form,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let program = access.program.clone();
    let actor = user.actor();
    let notify = review_notifier(state.settings.base_url.clone());
    let had_files = !uploads.is_empty();
    let result = db(&state.pool, move |conn| {
        Ok::<_, AppError>(crate::mdf::file_claim_with_proofs(
            conn, &store, &program, org_id, user_id, request_id, uploads, &input, &actor, &notify,
        ))
    })
    .await?;
    match result {
        Ok(_) => {
            session.success("Claim filed. You will hear by email when it is reviewed.");
            Ok(redirect(&format!("/portal/mdf/{request_id}")))
        }
        Err(error) => {
            // A refusal of the claim as a whole shows above the form; one naming a field, beside it.
            match error {
                MdfError::Refused(message) => errors.add("claim", message),
                other => field_error(other, &mut errors)?,
            }
            note_files_not_kept(had_files, &mut errors);
            request_page(
                ctx,
                &state,
                &access,
                request,
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn proof(
    state: State,
    Channel(access, _): Channel<Access>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    serve_proof(
        &state,
        access.program.id,
        Some(access.org_id),
        path.into_inner(),
    )
    .await
}

/// Sends a proof file to someone allowed to see it: staff (`org_id` `None`) or the org that uploaded it. Anyone
/// else gets the same 404 as for a file that does not exist.
pub async fn serve_proof(
    state: &State,
    program_id: i64,
    org_id: Option<i64>,
    id: i64,
) -> Result<HttpResponse, AppError> {
    let store = crate::mdf::uploads::Uploads::new(&state.settings.data_dir);
    let (file, bytes) = db(&state.pool, move |conn| {
        let file =
            crate::mdf::find_proof(conn, program_id, id, org_id)?.ok_or(AppError::NotFound)?;
        let bytes = store
            .read(&file.stored_name)
            .map_err(|e| AppError::caused("a stored proof file cannot be read", e))?;
        Ok::<_, AppError>((file, bytes))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(file.content_type.as_str())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "inline; filename=\"{}\"",
                served_name(&file.original_name, &file.content_type)
            ),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}

/// The name a proof file is served under: ASCII only (the header carries nothing else; the page shows the name as
/// uploaded), and ending in the extension of the type its content was checked to be, so a PDF uploaded as
/// `invoice.html` is never saved to disk as a page a browser would run.
fn served_name(original: &str, content_type: &str) -> String {
    let extension = match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        _ => "pdf",
    };
    let stem = original.rsplit_once('.').map_or(original, |(stem, _)| stem);
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_ ()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.{extension}")
}
