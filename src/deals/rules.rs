//! Deal registration: the lifecycle of a registered opportunity, the normalisation that makes conflict detection
//! work ("Acme, Inc." at `https://www.eu.acme.com/x` is the customer "acme" at `acme.com`), the SLA clock in
//! business hours, protection and expiry, and the partner's margin on a confirmed win.

use crate::domain::refusal::Refusal;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

use crate::domain::money::{percent_text, Currency, Money};
pub use crate::domain::quarter::Quarter;

crate::text_enum!(DealStatus {
    Submitted => "submitted" / "Awaiting approval",
    InfoRequested => "info_requested" / "More information requested",
    Approved => "approved" / "Approved",
    Rejected => "rejected" / "Rejected",
    Expired => "expired" / "Expired",
    WonReported => "won_reported" / "Won, awaiting confirmation",
    Won => "won" / "Won",
    Lost => "lost" / "Lost",
});

impl DealStatus {
    /// Registrations that still claim their customer: another partner registering it is a conflict.
    pub const CLAIMING: &'static [DealStatus] = &[
        DealStatus::Submitted,
        DealStatus::InfoRequested,
        DealStatus::Approved,
        DealStatus::WonReported,
    ];

    /// Open pipeline: approved deals being worked, and wins the vendor has yet to confirm.
    pub fn in_pipeline(self) -> bool {
        matches!(self, DealStatus::Approved | DealStatus::WonReported)
    }

    pub fn css_class(self) -> &'static str {
        match self {
            DealStatus::Submitted | DealStatus::InfoRequested | DealStatus::WonReported => {
                "pending"
            }
            DealStatus::Approved | DealStatus::Won => "approved",
            DealStatus::Rejected | DealStatus::Expired | DealStatus::Lost => "rejected",
        }
    }
}

crate::text_enum!(DealDecision {
    Approve => "approve" / "Approve",
    Reject => "reject" / "Reject",
    RequestInfo => "request_info" / "Ask for more information",
});

/// What a decision on a registration does, or why it may not be taken.
pub fn decide(
    status: DealStatus,
    decision: DealDecision,
    reason: &str,
) -> Result<DealStatus, crate::domain::refusal::Refusal> {
    if status != DealStatus::Submitted {
        return Err(Refusal::new(format!(
            "This registration is no longer awaiting approval (it is {}).",
            status.label().to_lowercase()
        )));
    }
    let reason = reason.trim();
    match decision {
        DealDecision::Approve => Ok(DealStatus::Approved),
        DealDecision::Reject if reason.is_empty() => Err(
            "Give a reason for the rejection, such as a prior registration or an existing direct customer."
                .into(),
        ),
        DealDecision::Reject => Ok(DealStatus::Rejected),
        DealDecision::RequestInfo if reason.is_empty() => {
            Err("Say what information the partner should add.".into())
        }
        DealDecision::RequestInfo => Ok(DealStatus::InfoRequested),
    }
}

/// Legal forms dropped from the end of a company name before comparing ("Acme, Inc." and "ACME Inc" are one).
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "llp",
    "lp",
    "plc",
    "gmbh",
    "ag",
    "kg",
    "ug",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "oy",
    "ab",
    "as",
    "aps",
    "pty",
    "pte",
    "kk",
    "se",
    "mbh",
    "holding",
    "holdings",
    "group",
];

/// A Latin letter without its accent, so "Müller" and "Muller" compare equal.
fn fold_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' | 'ĺ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' | 'ŕ' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'þ' => "th",
        _ => return None,
    })
}

/// The comparable form of a company name: lower case, accents folded, punctuation gone, legal forms dropped from
/// the end. A name that is nothing but a legal form keeps it, so "AG" does not match every empty key.
pub fn company_key(name: &str) -> String {
    let mut folded = String::with_capacity(name.len());
    for c in name.trim().to_lowercase().chars() {
        if let Some(plain) = fold_letter(c) {
            folded.push_str(plain);
        } else if c.is_alphanumeric() {
            folded.push(c);
        } else if c == '&' {
            folded.push_str(" and ");
        } else if c == '.' || c == '\'' || c == '’' {
            // "S.A." is "sa", "O'Neil" is "oneil".
        } else {
            folded.push(' ');
        }
    }
    let mut words: Vec<&str> = folded.split_whitespace().collect();
    while words.len() > 1 && LEGAL_SUFFIXES.contains(words.last().expect("non-empty")) {
        words.pop();
    }
    words.join(" ")
}

/// Second-level labels under which companies register (`acme.co.uk`): the registrable domain keeps three labels.
const SECOND_LEVEL_SUFFIXES: &[&str] = &[
    "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "com.au", "net.au",
    "org.au", "edu.au", "co.nz", "org.nz", "co.jp", "ne.jp", "or.jp", "co.kr", "co.za", "org.za",
    "com.br", "net.br", "com.mx", "com.ar", "com.cn", "net.cn", "org.cn", "com.hk", "com.sg",
    "com.tw", "co.in", "net.in", "org.in", "co.il", "com.tr", "co.id", "com.my", "com.ph",
    "com.vn", "com.pl", "co.at", "or.at", "com.es", "com.pt", "com.co", "com.pe", "com.ua",
    "co.th", "com.sa", "com.eg",
];

/// Free mail providers: a contact's address there says nothing about the customer's domain.
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "proton.me",
    "protonmail.com",
    "yandex.ru",
    "mail.ru",
    "qq.com",
    "163.com",
];

/// The registrable domain of a website as typed: scheme, `www.`, port and path stripped, subdomains dropped, so
/// `https://www.EU.acme.com/path` is `acme.com` and `shop.acme.co.uk` is `acme.co.uk`. Empty input is empty.
pub fn registrable_domain(raw: &str) -> Result<String, crate::domain::refusal::Refusal> {
    let host = crate::domain::domain_name::normalise_domain(raw)?;
    if host.is_empty() {
        return Ok(host);
    }
    let labels: Vec<&str> = host.split('.').collect();
    let keep = if labels.len() >= 3
        && SECOND_LEVEL_SUFFIXES.contains(&labels[labels.len() - 2..].join(".").as_str())
    {
        3
    } else {
        2
    };
    Ok(labels[labels.len().saturating_sub(keep)..].join("."))
}

/// The customer's domain from the contact's email address, unless it is a free mail provider.
pub fn domain_of_email(email: &str) -> Option<String> {
    let (_, domain) = email.trim().rsplit_once('@')?;
    let domain = registrable_domain(domain).ok()?;
    (!domain.is_empty() && !FREE_MAIL.contains(&domain.as_str())).then_some(domain)
}

/// What conflict detection compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerKeys {
    pub company_key: String,
    pub domain: String,
}

impl CustomerKeys {
    pub fn of(company_name: &str, domain: &str) -> Self {
        Self {
            company_key: company_key(company_name),
            domain: domain.to_string(),
        }
    }
}

crate::text_enum!(MatchedField {
    Domain => "domain" / "website domain",
    CompanyName => "company_name" / "company name",
});

/// The fields on which two customers match; empty when they do not.
pub fn matched_fields(a: &CustomerKeys, b: &CustomerKeys) -> Vec<MatchedField> {
    let mut fields = Vec::new();
    if !a.domain.is_empty() && a.domain == b.domain {
        fields.push(MatchedField::Domain);
    }
    if !a.company_key.is_empty() && a.company_key == b.company_key {
        fields.push(MatchedField::CompanyName);
    }
    fields
}

/// Whether a registration still claims its customer at `now`: open, or approved and protected.
pub fn claims_customer(
    status: DealStatus,
    protection_until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> bool {
    match status {
        DealStatus::Approved => protection_until.is_none_or(|until| until > now),
        other => DealStatus::CLAIMING.contains(&other),
    }
}

/// Whether a registration protects its customer at `now`: approved (or won, awaiting the vendor's confirmation)
/// with protection running. Approving another partner's registration of the same customer over it needs an
/// explicit override with a reason.
pub fn protects_customer(
    status: DealStatus,
    protection_until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> bool {
    matches!(status, DealStatus::Approved | DealStatus::WonReported)
        && protection_until.is_some_and(|until| until > now)
}

/// How an approver is shown a registration that protects the customer: "deal #12 of Northwind, protected until
/// 2027-03-01".
pub fn protection_text(deal_id: i64, partner_name: &str, until: Option<NaiveDateTime>) -> String {
    format!(
        "deal #{deal_id} of {partner_name}, protected until {}",
        until
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    )
}

/// Minutes of business time (Monday to Friday, UTC, around the clock) between two instants.
pub fn business_minutes_between(start: NaiveDateTime, end: NaiveDateTime) -> i64 {
    if end <= start {
        return 0;
    }
    let mut total = 0;
    let mut day = start.date();
    while day <= end.date() {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            let day_start = day.and_hms_opt(0, 0, 0).expect("midnight");
            let day_end = day_start + Duration::days(1);
            let from = start.max(day_start);
            let to = end.min(day_end);
            if to > from {
                total += (to - from).num_minutes();
            }
        }
        day += Duration::days(1);
    }
    total
}

/// Where a registration stands against the program's approval SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaClock {
    pub elapsed_minutes: i64,
    pub sla_hours: i64,
}

impl SlaClock {
    pub fn at(submitted_at: NaiveDateTime, now: NaiveDateTime, sla_hours: i64) -> Self {
        Self {
            elapsed_minutes: business_minutes_between(submitted_at, now),
            sla_hours,
        }
    }

    pub fn overdue(&self) -> bool {
        self.elapsed_minutes > self.sla_hours * 60
    }

    /// "30 h of 48 h", "6 h overdue".
    pub fn text(&self) -> String {
        let left = self.sla_hours * 60 - self.elapsed_minutes;
        if left < 0 {
            format!("{} h overdue", (-left + 59) / 60)
        } else {
            format!("{} h of {} h", self.elapsed_minutes / 60, self.sla_hours)
        }
    }
}

/// What the expiry job does with an approved deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryStep {
    Nothing,
    /// Protection ends within `EXPIRY_WARNING_DAYS`, and nobody was told yet.
    Warn,
    Expire,
}

pub const EXPIRY_WARNING_DAYS: i64 = 7;

pub fn expiry_step(
    protection_until: NaiveDateTime,
    warned_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> ExpiryStep {
    if protection_until <= now {
        ExpiryStep::Expire
    } else if warned_at.is_none() && protection_until - now <= Duration::days(EXPIRY_WARNING_DAYS) {
        ExpiryStep::Warn
    } else {
        ExpiryStep::Nothing
    }
}

/// The partner's margin on a confirmed win: the tier's basis points of the won amount, with the rule in words.
pub fn margin(won: Money, tier: Option<(&str, i64)>) -> (i64, String) {
    match tier {
        Some((name, bps)) if bps > 0 => {
            let amount = crate::domain::money::share(won.minor, bps, 10_000);
            let text = format!(
                "{name} tier margin {} of the won amount {won} = {}",
                percent_text(bps),
                Money::new(amount, won.currency)
            );
            (amount, text)
        }
        Some((name, _)) => (0, format!("The {name} tier has no margin on deals.")),
        None => (0, "The partner has no tier, so no margin on deals.".into()),
    }
}

/// What a partner is told right after registering: approved at once (the program approves small registrations
/// without a conflict automatically) or waiting for the team.
pub fn registered_message(status: DealStatus, protection_until: Option<NaiveDateTime>) -> String {
    match (status, protection_until) {
        (DealStatus::Approved, Some(until)) => format!(
            "Deal registered and approved at once: it is protected until {} UTC.",
            until.format("%Y-%m-%d")
        ),
        (DealStatus::Approved, None) => "Deal registered and approved at once.".into(),
        _ => "Deal registered. The program's team reviews it; you will get an email with the decision."
            .into(),
    }
}

/// What the staff member who confirmed a win is told: the margin the ledger now holds, or why it holds none.
pub fn win_confirmed_message(margin: Money, explanation: &str) -> String {
    if margin.minor > 0 {
        format!("Win confirmed; the partner's margin of {margin} is in the ledger.")
    } else {
        format!("Win confirmed. No margin was written to the ledger: {explanation}")
    }
}

crate::text_enum!(CustomFieldType {
    Text => "text" / "Text",
    Number => "number" / "Number",
    Date => "date" / "Date",
    Select => "select" / "Choice from a list",
});

/// An admin-defined field of the registration form.
#[derive(Debug, Clone)]
pub struct CustomFieldSpec<'a> {
    pub label: &'a str,
    pub field_type: CustomFieldType,
    pub options: Vec<&'a str>,
    pub required: bool,
}

/// Checks a custom field's value as typed; returns the value to store.
pub fn check_custom_value(
    spec: &CustomFieldSpec<'_>,
    raw: &str,
) -> Result<String, crate::domain::refusal::Refusal> {
    let value = raw.trim();
    if value.is_empty() {
        return if spec.required {
            Err(Refusal::new(format!("{} is required.", spec.label)))
        } else {
            Ok(String::new())
        };
    }
    if value.chars().count() > 500 {
        return Err(Refusal::new(format!(
            "{} takes at most 500 characters.",
            spec.label
        )));
    }
    match spec.field_type {
        CustomFieldType::Text => Ok(value.to_string()),
        CustomFieldType::Number => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
            if !whole.is_empty()
                && whole.chars().all(|c| c.is_ascii_digit())
                && fraction.chars().all(|c| c.is_ascii_digit())
                && whole.len() + fraction.len() <= 18
            {
                Ok(value.to_string())
            } else {
                Err(Refusal::new(format!(
                    "{} takes a number, like 250 or 12.5.",
                    spec.label
                )))
            }
        }
        CustomFieldType::Date => NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map(|d| d.to_string())
            .map_err(|_| Refusal::new(format!("{} takes a date like 2026-12-31.", spec.label))),
        CustomFieldType::Select => {
            if spec.options.contains(&value) {
                Ok(value.to_string())
            } else {
                Err(Refusal::new(format!(
                    "Choose one of the listed values for {}.",
                    spec.label
                )))
            }
        }
    }
}

/// A stage as the admin writes it, one per line: "Proposal | 40".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageDefinition {
    pub name: String,
    pub probability_percent: i64,
}

pub fn parse_stages(text: &str) -> Result<Vec<StageDefinition>, String> {
    let mut stages: Vec<StageDefinition> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fail = |why: &str| format!("Line {}: {why}", number + 1);
        let (name, probability) = line
            .rsplit_once('|')
            .ok_or_else(|| fail("write a stage as 'Name | probability', like 'Proposal | 40'."))?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(fail("a stage needs a name of at most 60 characters."));
        }
        if ["won", "lost"].contains(&name.to_lowercase().as_str()) {
            return Err(fail(
                "won and lost are outcomes every program has; list only the open stages.",
            ));
        }
        let probability: i64 = probability
            .trim()
            .trim_end_matches('%')
            .trim()
            .parse()
            .ok()
            .filter(|p| (0..=100).contains(p))
            .ok_or_else(|| fail("the probability is a whole percentage from 0 to 100."))?;
        if stages.iter().any(|s| s.name.eq_ignore_ascii_case(name)) {
            return Err(fail(&format!("the stage '{name}' is listed twice.")));
        }
        stages.push(StageDefinition {
            name: name.to_string(),
            probability_percent: probability,
        });
    }
    if stages.is_empty() {
        return Err("List at least one open stage.".into());
    }
    Ok(stages)
}

pub const DEFAULT_STAGES: &[(&str, i64)] =
    &[("Qualification", 10), ("Proposal", 40), ("Negotiation", 70)];

/// The currency a deal is registered in, as typed.
pub fn parse_amount(raw_amount: &str, raw_currency: &str) -> Result<Money, (&'static str, String)> {
    let currency = Currency::parse(raw_currency).map_err(|e| ("currency", e.into()))?;
    let money = Money::parse(raw_amount, currency).map_err(|e| ("amount", e.into()))?;
    if money.minor <= 0 {
        return Err((
            "amount",
            "Enter the estimated amount, more than zero.".into(),
        ));
    }
    Ok(money)
}

/// The program's deal registration settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealSettings {
    pub sla_hours: i64,
    pub protection_days: i64,
    pub auto_approve_below_minor: Option<i64>,
    pub requires_certification: bool,
    pub reps_see_org: bool,
}

pub struct DealSettingsInput<'a> {
    pub sla_hours: &'a str,
    pub protection_days: &'a str,
    pub auto_approve_below: &'a str,
    pub requires_certification: bool,
    pub reps_see_org: bool,
}

impl DealSettings {
    pub fn parse(
        input: &DealSettingsInput<'_>,
        currency: Currency,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let mut whole =
            |raw: &str, field: &'static str, range: std::ops::RangeInclusive<i64>, what: &str| {
                match raw.trim().parse::<i64>() {
                    Ok(n) if range.contains(&n) => n,
                    _ => {
                        errors.push((
                            field,
                            format!(
                                "{what} is a whole number from {} to {}.",
                                range.start(),
                                range.end()
                            ),
                        ));
                        0
                    }
                }
            };
        let sla_hours = whole(
            input.sla_hours,
            "sla_hours",
            1..=720,
            "The approval SLA in hours",
        );
        let protection_days = whole(
            input.protection_days,
            "protection_days",
            1..=730,
            "Protection in days",
        );
        let auto_approve_below_minor = match input.auto_approve_below.trim() {
            "" => None,
            raw => {
                match Money::parse(raw, currency) {
                    Ok(m) if m.minor > 0 => Some(m.minor),
                    Ok(_) => {
                        errors.push(("auto_approve_below", "Leave it empty to turn auto-approval off, or enter an amount above zero.".into()));
                        None
                    }
                    Err(e) => {
                        errors.push(("auto_approve_below", e.into()));
                        None
                    }
                }
            }
        };
        if errors.is_empty() {
            Ok(Self {
                sla_hours,
                protection_days,
                auto_approve_below_minor,
                requires_certification: input.requires_certification,
                reps_see_org: input.reps_see_org,
            })
        } else {
            Err(errors)
        }
    }
}

/// A direct account as entered or imported: the company, its registrable domain (may be empty), its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDirectAccount {
    pub company_name: String,
    pub domain: String,
    pub owner: String,
}

impl NewDirectAccount {
    pub fn parse(
        company_name: &str,
        website: &str,
        owner: &str,
    ) -> Result<Self, crate::domain::refusal::Refusal> {
        let company_name = company_name.trim();
        if company_name.is_empty() || company_name.chars().count() > 200 {
            return Err("Enter the company's name (at most 200 characters).".into());
        }
        Ok(Self {
            company_name: company_name.to_string(),
            domain: registrable_domain(website)?,
            owner: owner.trim().chars().take(200).collect(),
        })
    }
}

/// Splits CSV text (RFC 4180: quoted fields, doubled quotes, commas and line breaks inside quotes) into records.
pub fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records.retain(|r| r.iter().any(|f| !f.trim().is_empty()));
    records
}

/// Reads a direct-accounts CSV: columns company, website/domain, owner (a header line naming them is skipped).
/// Every bad line is reported by number; nothing is imported until all are right.
pub fn parse_direct_accounts(text: &str) -> Result<Vec<NewDirectAccount>, Vec<String>> {
    let mut records = csv_records(text);
    if records.first().and_then(|r| r.first()).is_some_and(|f| {
        f.trim().eq_ignore_ascii_case("company") || f.trim().eq_ignore_ascii_case("company_name")
    }) {
        records.remove(0);
    }
    let mut accounts = Vec::new();
    let mut errors = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let get = |i: usize| record.get(i).map(String::as_str).unwrap_or("");
        match NewDirectAccount::parse(get(0), get(1), get(2)) {
            Ok(account) => accounts.push(account),
            Err(e) => errors.push(format!("Record {}: {e}", index + 1)),
        }
    }
    if records.is_empty() {
        errors.push("The file holds no accounts. Write one per line: company,domain,owner.".into());
    }
    if errors.is_empty() {
        Ok(accounts)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
