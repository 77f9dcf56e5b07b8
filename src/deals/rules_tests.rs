//! Unit tests of the deal rules, beside `rules.rs` to keep that file readable.

use super::*;

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

#[test]
fn company_names_compare_without_case_punctuation_accents_or_legal_form() {
    for (a, b) in [
        ("Acme, Inc.", "ACME Inc"),
        ("Acme, Inc.", "acme"),
        ("Müller GmbH", "Muller GmbH"),
        ("Müller GmbH", "MULLER"),
        ("Société Générale S.A.", "Societe Generale SA"),
        ("Smith & Sons Ltd.", "smith and sons limited"),
        ("Acme Pty Ltd", "Acme"),
        ("Initech LLC", "Initech, L.L.C."),
    ] {
        assert_eq!(company_key(a), company_key(b), "{a} vs {b}");
    }
    assert_ne!(company_key("Acme Robotics"), company_key("Acme"));
    assert_eq!(company_key("AG"), "ag");
    assert_eq!(company_key("  Globex   Corporation "), "globex");
}

#[test]
fn domains_reduce_to_the_registrable_domain() {
    for (raw, expected) in [
        ("https://www.ACME.com/path", "acme.com"),
        ("eu.acme.com", "acme.com"),
        ("http://shop.eu.acme.com:8080/x?y", "acme.com"),
        ("acme.com", "acme.com"),
        ("www.acme.co.uk", "acme.co.uk"),
        ("shop.acme.co.uk", "acme.co.uk"),
        ("", ""),
    ] {
        assert_eq!(registrable_domain(raw).unwrap(), expected, "{raw}");
    }
    assert!(registrable_domain("not a domain").is_err());
    assert_eq!(
        domain_of_email("jo@eu.acme.com").as_deref(),
        Some("acme.com")
    );
    assert_eq!(domain_of_email("jo@gmail.com"), None);
}

#[test]
fn matches_name_the_fields_that_matched() {
    let a = CustomerKeys::of("Acme, Inc.", "acme.com");
    assert_eq!(
        matched_fields(&a, &CustomerKeys::of("ACME Inc", "acme.com")),
        vec![MatchedField::Domain, MatchedField::CompanyName]
    );
    assert_eq!(
        matched_fields(&a, &CustomerKeys::of("Acme Holdings Europe", "acme.com")),
        vec![MatchedField::Domain]
    );
    assert!(matched_fields(&CustomerKeys::of("X", ""), &CustomerKeys::of("Y", "")).is_empty());
}

#[test]
fn only_submitted_registrations_are_decided_and_refusals_need_reasons() {
    use DealDecision as D;
    use DealStatus as S;
    assert_eq!(decide(S::Submitted, D::Approve, ""), Ok(S::Approved));
    assert!(decide(S::Submitted, D::Reject, "  ").is_err());
    assert_eq!(
        decide(S::Submitted, D::Reject, "prior registration"),
        Ok(S::Rejected)
    );
    assert!(decide(S::Submitted, D::RequestInfo, "").is_err());
    assert_eq!(
        decide(S::Submitted, D::RequestInfo, "Which products?"),
        Ok(S::InfoRequested)
    );
    assert!(decide(S::Approved, D::Approve, "").is_err());
}

#[test]
fn the_sla_clock_counts_weekdays_only() {
    // 2026-11-20 is a Friday.
    assert_eq!(
        business_minutes_between(at("2026-11-20 12:00"), at("2026-11-23 12:00")),
        24 * 60
    );
    assert_eq!(
        business_minutes_between(at("2026-11-21 09:00"), at("2026-11-22 20:00")),
        0
    );
    assert_eq!(
        business_minutes_between(at("2026-11-23 08:00"), at("2026-11-23 10:30")),
        150
    );
    assert_eq!(
        business_minutes_between(at("2026-11-23 10:00"), at("2026-11-23 09:00")),
        0
    );
    let clock = SlaClock::at(at("2026-11-16 00:00"), at("2026-11-18 06:00"), 48);
    assert!(clock.overdue());
    assert_eq!(clock.text(), "6 h overdue");
    assert_eq!(
        SlaClock::at(at("2026-11-23 00:00"), at("2026-11-23 05:00"), 48).text(),
        "5 h of 48 h"
    );
}

#[test]
fn protection_warns_once_a_week_ahead_then_expires() {
    let now = at("2026-11-23 12:00");
    assert_eq!(
        expiry_step(at("2026-12-30 12:00"), None, now),
        ExpiryStep::Nothing
    );
    assert_eq!(
        expiry_step(at("2026-11-29 12:00"), None, now),
        ExpiryStep::Warn
    );
    assert_eq!(
        expiry_step(at("2026-11-29 12:00"), Some(now), now),
        ExpiryStep::Nothing
    );
    assert_eq!(
        expiry_step(at("2026-11-23 12:00"), Some(now), now),
        ExpiryStep::Expire
    );
    assert!(claims_customer(
        DealStatus::Approved,
        Some(at("2026-11-24 00:00")),
        now
    ));
    assert!(!claims_customer(
        DealStatus::Approved,
        Some(at("2026-11-22 00:00")),
        now
    ));
    assert!(!claims_customer(DealStatus::Lost, None, now));
}

#[test]
fn margin_is_the_tier_share_of_the_won_amount_with_the_rule_in_words() {
    let eur = Currency::parse("EUR").unwrap();
    let (amount, text) = margin(Money::new(1_234_567, eur), Some(("Gold", 1500)));
    assert_eq!(amount, 185_185);
    assert_eq!(
        text,
        "Gold tier margin 15% of the won amount 12,345.67 EUR = 1,851.85 EUR"
    );
    assert_eq!(margin(Money::new(100, eur), None).0, 0);
    assert_eq!(margin(Money::new(100, eur), Some(("Registered", 0))).0, 0);
}

#[test]
fn custom_values_are_checked_by_type() {
    let spec = |field_type, required| CustomFieldSpec {
        label: "Seats",
        field_type,
        options: vec!["Small", "Large"],
        required,
    };
    assert!(check_custom_value(&spec(CustomFieldType::Text, true), " ").is_err());
    assert_eq!(
        check_custom_value(&spec(CustomFieldType::Text, false), ""),
        Ok(String::new())
    );
    assert_eq!(
        check_custom_value(&spec(CustomFieldType::Number, true), "250"),
        Ok("250".into())
    );
    assert!(check_custom_value(&spec(CustomFieldType::Number, true), "lots").is_err());
    assert!(check_custom_value(&spec(CustomFieldType::Date, true), "31/12/2026").is_err());
    assert_eq!(
        check_custom_value(&spec(CustomFieldType::Select, true), "Large"),
        Ok("Large".into())
    );
    assert!(check_custom_value(&spec(CustomFieldType::Select, true), "Huge").is_err());
}

#[test]
fn direct_accounts_are_read_from_csv_and_every_bad_line_is_named() {
    let text = "company,domain,owner\n\"Acme, Inc.\",https://www.acme.com,Dana\nGlobex,,\n\n";
    let accounts = parse_direct_accounts(text).unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0].company_name, "Acme, Inc.");
    assert_eq!(accounts[0].domain, "acme.com");
    assert_eq!(accounts[0].owner, "Dana");
    assert_eq!(accounts[1].domain, "");
    let errors = parse_direct_accounts("Acme,acme.com\n,x.com\nInitech,not a domain").unwrap_err();
    assert_eq!(errors.len(), 2);
    assert!(errors[0].starts_with("Record 2"), "{errors:?}");
    assert!(parse_direct_accounts("").is_err());
    assert_eq!(
        csv_records("a,\"b\"\"c\"\r\nd"),
        vec![vec!["a", "b\"c"], vec!["d"]]
    );
}

#[test]
fn deal_settings_are_checked() {
    let usd = Currency::parse("USD").unwrap();
    let input = |sla, auto| DealSettingsInput {
        sla_hours: sla,
        protection_days: "90",
        auto_approve_below: auto,
        requires_certification: false,
        reps_see_org: true,
    };
    assert_eq!(
        DealSettings::parse(&input("48", "5,000"), usd)
            .unwrap()
            .auto_approve_below_minor,
        Some(500_000)
    );
    assert_eq!(
        DealSettings::parse(&input("48", ""), usd)
            .unwrap()
            .auto_approve_below_minor,
        None
    );
    let errors = DealSettings::parse(&input("0", "x"), usd).unwrap_err();
    assert_eq!(
        errors.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec!["sla_hours", "auto_approve_below"]
    );
}

#[test]
fn stages_are_read_from_lines() {
    let stages = parse_stages("Qualification | 10\n\nProposal|40%\n").unwrap();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[1].probability_percent, 40);
    assert!(parse_stages("Proposal").unwrap_err().starts_with("Line 1"));
    assert!(parse_stages("Won | 100").is_err());
    assert!(parse_stages("A | 10\na | 20").is_err());
    assert!(parse_stages("A | 101").is_err());
    assert!(parse_stages("").is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

    /// The company-name normaliser, fuzzed: never panics, and its key is a fixed point (normalising a key gives
    /// the key), lower case, with single spaces and no ends to trim, so equal keys mean equal customers.
    #[test]
    fn company_keys_are_stable_and_canonical(name in "\\PC{0,40}|[A-Za-z&.,' ]{0,30}( Inc| LLC| GmbH| S\\.A\\.| Ltd)*") {
        let key = company_key(&name);
        proptest::prop_assert_eq!(company_key(&key), key.clone(), "{:?}", name);
        proptest::prop_assert_eq!(key.trim(), key.as_str());
        proptest::prop_assert!(!key.contains("  "), "{:?}", key);
        proptest::prop_assert_eq!(key.to_lowercase(), key.clone());
    }

    /// The website normaliser, fuzzed: never panics, and a domain it returns is lower case, dotted, and its own
    /// registrable domain. (Empty input is documented to give the empty "no website".)
    #[test]
    fn registrable_domains_are_their_own_domain(raw in "\\PC{0,30}|(https?://)?(www\\.)?([a-zA-Z0-9-]{1,8}\\.){1,4}[a-z]{2,4}(:[0-9]{2,5})?(/[a-z]{0,5})?") {
        // Empty input is no domain at all ("no website given").
        if let Ok(domain) = registrable_domain(&raw).map_err(|_| ()).and_then(|d| if d.is_empty() { Err(()) } else { Ok(d) }) {
            proptest::prop_assert!(domain.contains('.'), "{:?} gave {:?}", raw, domain);
            proptest::prop_assert_eq!(domain.to_lowercase(), domain.clone());
            proptest::prop_assert_eq!(registrable_domain(&domain), Ok(domain.clone()), "{:?}", raw);
        }
    }
}
