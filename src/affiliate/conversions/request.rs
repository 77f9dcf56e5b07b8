//! Reading a conversion or refund reported by a merchant's server: every field checked, and the first problem
//! reported with the field's name and a stable code.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use serde_json::{Map, Value};

use crate::domain::conversion::ConversionKind;
use crate::domain::money::{Currency, MAX_AMOUNT_MINOR};

/// How far ahead of the server's clock a reported `occurred_at` may be: clocks of merchants' servers drift.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// `missing_field` or `invalid_field`.
    pub code: &'static str,
    pub field: &'static str,
    pub message: String,
}

fn missing(field: &'static str, message: &str) -> FieldProblem {
    FieldProblem {
        code: "missing_field",
        field,
        message: message.to_string(),
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        code: "invalid_field",
        field,
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionRequest {
    pub external_id: String,
    pub kind: ConversionKind,
    pub amount_minor: i64,
    pub currency: Currency,
    pub click_id: Option<String>,
    pub customer_id: Option<String>,
    pub coupon: Option<String>,
    pub product: Option<String>,
    pub customer_email: Option<String>,
    pub occurred_at: Option<NaiveDateTime>,
}

fn object(body: &Value) -> Result<&Map<String, Value>, FieldProblem> {
    body.as_object()
        .ok_or_else(|| invalid("body", "the body must be a JSON object"))
}

/// An optional string field of at most `max` characters; empty counts as absent.
fn text(
    map: &Map<String, Value>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, FieldProblem> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if s.trim().chars().count() <= max => Ok(Some(s.trim().to_string())),
        Some(Value::String(_)) => Err(invalid(field, format!("at most {max} characters"))),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

fn amount(map: &Map<String, Value>) -> Result<Option<i64>, FieldProblem> {
    match map.get("amount") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if v > MAX_AMOUNT_MINOR => Err(invalid(
                "amount",
                format!("must be at most {MAX_AMOUNT_MINOR} minor units"),
            )),
            Some(v) if v >= 0 => Ok(Some(v)),
            Some(_) => Err(invalid(
                "amount",
                "must be zero or more (minor units, e.g. cents)",
            )),
            None if n.is_u64() => Err(invalid(
                "amount",
                format!("must be at most {MAX_AMOUNT_MINOR} minor units"),
            )),
            None => Err(invalid(
                "amount",
                "must be a whole number of minor units (e.g. 1999 for 19.99)",
            )),
        },
        Some(_) => Err(invalid(
            "amount",
            "must be a whole number of minor units (e.g. 1999 for 19.99)",
        )),
    }
}

/// Reads a conversion; `now` is the server's clock, against which `occurred_at` may not be in the future.
pub fn parse_conversion(
    body: &Value,
    program_currency: Currency,
    now: NaiveDateTime,
) -> Result<ConversionRequest, FieldProblem> {
    let map = object(body)?;
    let external_id = text(map, "external_id", 200)?.ok_or_else(|| {
        missing(
            "external_id",
            "your unique id for this conversion is required",
        )
    })?;
    let kind = match text(map, "kind", 10)? {
        None => return Err(missing("kind", "lead or sale is required")),
        Some(k) => k
            .parse::<ConversionKind>()
            .map_err(|_| invalid("kind", format!("'{k}' is not lead or sale")))?,
    };
    let amount_minor = match (amount(map)?, kind) {
        (Some(v), _) => v,
        (None, ConversionKind::Sale) => {
            return Err(missing("amount", "a sale needs its amount in minor units"))
        }
        (None, ConversionKind::Lead) => 0,
    };
    let currency = match text(map, "currency", 10)? {
        Some(code) => Currency::parse(&code).map_err(|_| {
            invalid(
                "currency",
                format!("'{code}' is not a three-letter ISO 4217 code"),
            )
        })?,
        None if kind == ConversionKind::Sale => {
            return Err(missing("currency", "a sale needs its ISO 4217 currency"))
        }
        None => program_currency,
    };
    let customer_email = match text(map, "customer_email", 254)? {
        Some(e) => Some(
            crate::domain::email::EmailAddress::parse(&e)
                .map_err(|_| invalid("customer_email", "is not an email address"))?
                .to_string(),
        ),
        None => None,
    };
    let occurred_at = match text(map, "occurred_at", 40)? {
        Some(raw) => Some(
            DateTime::parse_from_rfc3339(&raw)
                .map_err(|_| {
                    invalid(
                        "occurred_at",
                        "must be an RFC 3339 time, e.g. 2026-11-23T16:00:00Z",
                    )
                })?
                .with_timezone(&Utc)
                .naive_utc()
                .trunc_subsecs(6),
        ),
        None => None,
    };
    if let Some(at) = occurred_at {
        if at > now + chrono::Duration::seconds(MAX_CLOCK_SKEW_SECS) {
            return Err(invalid(
                "occurred_at",
                format!(
                    "is in the future ({} UTC is after the server's clock, {} UTC); send the time the conversion happened",
                    at.format("%Y-%m-%d %H:%M:%S"),
                    now.format("%Y-%m-%d %H:%M:%S")
                ),
            ));
        }
    }
    Ok(ConversionRequest {
        external_id,
        kind,
        amount_minor,
        currency,
        click_id: text(map, "click_id", 64)?,
        customer_id: text(map, "customer_id", 200)?,
        coupon: text(map, "coupon", 40)?,
        product: text(map, "product", 200)?,
        customer_email,
        occurred_at,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub refund_id: String,
    pub external_id: String,
    pub amount_minor: Option<i64>,
}

pub fn parse_refund(body: &Value) -> Result<RefundRequest, FieldProblem> {
    let map = object(body)?;
    let refund_id = text(map, "refund_id", 200)?
        .ok_or_else(|| missing("refund_id", "your unique id for this refund is required"))?;
    let external_id = text(map, "external_id", 200)?.ok_or_else(|| {
        missing(
            "external_id",
            "the external_id of the refunded sale is required",
        )
    })?;
    let amount_minor = amount(map)?;
    if amount_minor == Some(0) {
        return Err(invalid(
            "amount",
            "must be more than zero; leave it out to refund the whole sale",
        ));
    }
    Ok(RefundRequest {
        refund_id,
        external_id,
        amount_minor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn now() -> NaiveDateTime {
        "2026-12-01T00:00:00".parse().unwrap()
    }

    #[test]
    fn a_full_sale_parses() {
        let body = json!({"external_id": "ord-1", "kind": "sale", "amount": 19900, "currency": "eur", "click_id": "abc",
                          "customer_email": "Ann@Example.com", "occurred_at": "2026-11-23T16:00:00.1234567Z"});
        let request = parse_conversion(&body, usd(), now()).unwrap();
        assert_eq!(request.amount_minor, 19900);
        assert_eq!(request.currency.code(), "EUR");
        assert_eq!(request.customer_email.as_deref(), Some("ann@example.com"));
        assert_eq!(
            request.occurred_at.unwrap().to_string(),
            "2026-11-23 16:00:00.123456"
        );
    }

    #[test]
    fn a_lead_defaults_amount_and_currency() {
        let request =
            parse_conversion(&json!({"external_id": "l-1", "kind": "lead"}), usd(), now()).unwrap();
        assert_eq!((request.amount_minor, request.currency.code()), (0, "USD"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!([]), "body", "invalid_field"),
            (json!({"kind": "sale"}), "external_id", "missing_field"),
            (json!({"external_id": "x"}), "kind", "missing_field"),
            (
                json!({"external_id": "x", "kind": "refund"}),
                "kind",
                "invalid_field",
            ),
            (
                json!({"external_id": "x", "kind": "sale", "currency": "USD"}),
                "amount",
                "missing_field",
            ),
            (
                json!({"external_id": "x", "kind": "sale", "amount": 19.99, "currency": "USD"}),
                "amount",
                "invalid_field",
            ),
            (
                json!({"external_id": "x", "kind": "sale", "amount": -5, "currency": "USD"}),
                "amount",
                "invalid_field",
            ),
            (
                json!({"external_id": "x", "kind": "sale", "amount": 5}),
                "currency",
                "missing_field",
            ),
            (
                json!({"external_id": "x", "kind": "sale", "amount": 5, "currency": "dollars"}),
                "currency",
                "invalid_field",
            ),
            (
                json!({"external_id": "x", "kind": "lead", "customer_email": "nope"}),
                "customer_email",
                "invalid_field",
            ),
            (
                json!({"external_id": "x", "kind": "lead", "occurred_at": "yesterday"}),
                "occurred_at",
                "invalid_field",
            ),
            (
                json!({"external_id": "x", "kind": "sale", "amount": MAX_AMOUNT_MINOR + 1, "currency": "USD"}),
                "amount",
                "invalid_field",
            ),
            (
                json!({"external_id": "x", "kind": "sale", "amount": 9223372036854775807i64, "currency": "USD"}),
                "amount",
                "invalid_field",
            ),
            (
                json!({"external_id": "x", "kind": "sale", "amount": 18446744073709551615u64, "currency": "USD"}),
                "amount",
                "invalid_field",
            ),
            (
                json!({"external_id": "x", "kind": "lead", "occurred_at": "2030-01-01T00:00:00Z"}),
                "occurred_at",
                "invalid_field",
            ),
            (
                json!({"external_id": 42, "kind": "lead"}),
                "external_id",
                "invalid_field",
            ),
            (
                json!({"external_id": "x", "kind": "lead", "click_id": "x".repeat(65)}),
                "click_id",
                "invalid_field",
            ),
        ];
        for (body, field, code) in cases {
            let problem = parse_conversion(&body, usd(), now()).unwrap_err();
            assert_eq!((problem.field, problem.code), (field, code), "{body}");
        }
    }

    #[test]
    fn a_conversion_a_few_minutes_ahead_of_the_clock_is_accepted_and_one_later_is_not() {
        let at = |t: &str| json!({"external_id": "x", "kind": "lead", "occurred_at": t});
        assert!(parse_conversion(&at("2026-12-01T00:05:00Z"), usd(), now()).is_ok());
        let problem = parse_conversion(&at("2026-12-01T00:05:01Z"), usd(), now()).unwrap_err();
        assert!(
            problem.message.contains("in the future"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn refunds_need_ids_and_a_positive_amount() {
        assert_eq!(
            parse_refund(&json!({"refund_id": "r", "external_id": "o"}))
                .unwrap()
                .amount_minor,
            None
        );
        assert_eq!(
            parse_refund(&json!({"external_id": "o"}))
                .unwrap_err()
                .field,
            "refund_id"
        );
        assert_eq!(
            parse_refund(&json!({"refund_id": "r", "external_id": "o", "amount": 0}))
                .unwrap_err()
                .field,
            "amount"
        );
        assert_eq!(
            parse_refund(
                &json!({"refund_id": "r", "external_id": "o", "amount": MAX_AMOUNT_MINOR + 1})
            )
            .unwrap_err()
            .field,
            "amount"
        );
    }

    /// Any JSON value, nested a few levels, with strings that like to be keys of a conversion.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("external_id".to_string()),
            Just("kind".to_string()),
            Just("amount".to_string()),
            Just("currency".to_string()),
            Just("click_id".to_string()),
            Just("customer_email".to_string()),
            Just("occurred_at".to_string()),
            Just("coupon".to_string()),
            "[a-z_]{0,12}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            ".{0,40}".prop_map(Value::String),
            "(sale|lead|SALE| sale |eur|usd|2026-11-23T16:00:00Z|2026-13-40)"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 8, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..9)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// The conversion API's reader, fuzzed: any JSON gives a request or a named problem, never a panic, and
        /// what it accepts keeps the API's promises.
        #[test]
        fn any_json_gives_a_request_or_a_named_problem(body in json_value()) {
            match parse_conversion(&body, usd(), now()) {
                Ok(request) => {
                    proptest::prop_assert!(!request.external_id.is_empty());
                    proptest::prop_assert!(request.external_id.chars().count() <= 200);
                    proptest::prop_assert_eq!(request.external_id.trim(), request.external_id.as_str());
                    proptest::prop_assert!((0..=MAX_AMOUNT_MINOR).contains(&request.amount_minor));
                }
                Err(problem) => {
                    proptest::prop_assert!(["missing_field", "invalid_field"].contains(&problem.code));
                    proptest::prop_assert!(!problem.message.is_empty());
                }
            }
            let _ = parse_refund(&body);
        }

        /// Raw bytes as a merchant's server might send them: whatever serde_json accepts, the reader survives.
        #[test]
        fn any_bytes_that_parse_as_json_are_read_without_panicking(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
                let _ = parse_conversion(&body, usd(), now());
                let _ = parse_refund(&body);
            }
        }
    }
}
