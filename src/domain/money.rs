//! Money is integer minor units plus an ISO 4217 currency; rates are basis points. No floats anywhere: amounts typed
//! by people are parsed digit by digit, and anything finer than the currency's minor unit is refused, not rounded.
//! Every amount that enters Concord (API, forms, settings) is at most `MAX_AMOUNT_MINOR` in size, and sums are
//! taken in i128, so no total overflows or wraps.

use crate::domain::refusal::Refusal;

/// The largest amount Concord accepts in one conversion, refund, deal, claim, rule or setting: 10^12 minor units
/// (10,000,000,000.00 USD). Far above any real sale, and low enough that about nine million of them still add up
/// within an i64.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// Adds amounts in i128, so no number of them wraps; a total beyond the i64 range (which bounded inputs cannot
/// reach short of nine million ceiling-sized amounts) is held at the range's end rather than wrapped.
pub fn sum_minor(amounts: impl IntoIterator<Item = i64>) -> i64 {
    clamp_minor(amounts.into_iter().map(i128::from).sum())
}

/// An i128 total as an i64 amount, held at the range's end rather than wrapped (see `sum_minor`).
pub fn clamp_minor(total: i128) -> i64 {
    i64::try_from(total).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX })
}

/// `amount * bps / 10000`, rounded half-up at the minor unit (half away from zero for negatives).
pub fn apply_rate(amount_minor: i64, bps: i64) -> i64 {
    let product = amount_minor as i128 * bps as i128;
    let rounded = if product >= 0 {
        (product + 5_000) / 10_000
    } else {
        (product - 5_000) / 10_000
    };
    clamp_minor(rounded)
}

/// `amount * part / whole` rounded half-up: a share of an amount (a partial refund of a commission).
pub fn share(amount_minor: i64, part: i64, whole: i64) -> i64 {
    if whole == 0 {
        return 0;
    }
    let product = amount_minor as i128 * part as i128 * 2;
    let whole = whole as i128;
    let rounded = if product >= 0 {
        (product + whole) / (2 * whole)
    } else {
        (product - whole) / (2 * whole)
    };
    clamp_minor(rounded)
}

/// Adds two amounts without wrapping (see `sum_minor`).
pub fn add_minor(a: i64, b: i64) -> i64 {
    a.saturating_add(b)
}

use std::fmt;

/// An ISO 4217 code with the number of decimal places its minor unit has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
}

/// Currencies whose minor unit is not cents. Every other code has two decimals.
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];
const THREE_DECIMAL: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, crate::domain::refusal::Refusal> {
        let upper = raw.trim().to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(Refusal::new(format!(
                "'{}' is not a three-letter ISO currency code such as USD or EUR.",
                raw.trim()
            )));
        }
        Ok(Self {
            code: [bytes[0], bytes[1], bytes[2]],
        })
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("constructed from ASCII")
    }

    pub fn decimals(&self) -> u32 {
        if ZERO_DECIMAL.contains(&self.code()) {
            0
        } else if THREE_DECIMAL.contains(&self.code()) {
            3
        } else {
            2
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parses what a person types ("1,250.50", "1250", "-3.5") into minor units of `currency`.
    pub fn parse(raw: &str, currency: Currency) -> Result<Self, crate::domain::refusal::Refusal> {
        let text: String = raw
            .trim()
            .chars()
            .filter(|c| *c != ',' && *c != ' ' && *c != '_')
            .collect();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let decimals = currency.decimals() as usize;
        let valid = !(whole.is_empty() && fraction.is_empty())
            && whole.chars().all(|c| c.is_ascii_digit())
            && fraction.chars().all(|c| c.is_ascii_digit());
        if !valid {
            return Err(Refusal::new(format!(
                "'{}' is not an amount; write it like 1250.00.",
                raw.trim()
            )));
        }
        if fraction.len() > decimals {
            return Err(Refusal::new(format!(
                "{} amounts have at most {} decimal places.",
                currency, decimals
            )));
        }
        let scale = 10i64.pow(decimals as u32);
        let whole_value: i64 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|_| "That amount is too large.".to_string())?
        };
        let fraction_value: i64 = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<decimals$}").parse().expect("digits")
        };
        let minor = whole_value
            .checked_mul(scale)
            .and_then(|v| v.checked_add(fraction_value))
            .filter(|v| *v <= MAX_AMOUNT_MINOR)
            .ok_or_else(|| Self::too_large(currency))?;
        Ok(Self {
            minor: if negative { -minor } else { minor },
            currency,
        })
    }

    /// The refusal of an amount above `MAX_AMOUNT_MINOR`, in the currency's own units.
    pub fn too_large(currency: Currency) -> String {
        format!(
            "That amount is too large: Concord accepts at most {}.",
            Money::new(MAX_AMOUNT_MINOR, currency)
        )
    }

    /// Whether the amount is within what Concord accepts (`MAX_AMOUNT_MINOR` either side of zero).
    pub fn within_bounds(minor: i64) -> bool {
        (-MAX_AMOUNT_MINOR..=MAX_AMOUNT_MINOR).contains(&minor)
    }

    /// The amount without the currency, with thousands separators: "1,250.50".
    pub fn amount_text(&self) -> String {
        let decimals = self.currency.decimals();
        let scale = 10u64.pow(decimals);
        let abs = self.minor.unsigned_abs();
        let whole = group_thousands(abs / scale);
        let sign = if self.minor < 0 { "-" } else { "" };
        if decimals == 0 {
            format!("{sign}{whole}")
        } else {
            format!(
                "{sign}{whole}.{:0width$}",
                abs % scale,
                width = decimals as usize
            )
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_text(), self.currency)
    }
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate in basis points (1% = 100 bps), limited to 0..=100%.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasisPoints(i64);

impl BasisPoints {
    pub fn new(bps: i64) -> Result<Self, crate::domain::refusal::Refusal> {
        if (0..=10_000).contains(&bps) {
            Ok(Self(bps))
        } else {
            Err("A rate must be between 0% and 100%.".into())
        }
    }

    /// Parses a percentage as typed ("12.5", "12.5%", "7") with at most two decimals.
    pub fn parse_percent(raw: &str) -> Result<Self, crate::domain::refusal::Refusal> {
        let text = raw.trim().trim_end_matches('%').trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let valid = !whole.is_empty()
            && whole.len() <= 3
            && whole.chars().all(|c| c.is_ascii_digit())
            && fraction.len() <= 2
            && fraction.chars().all(|c| c.is_ascii_digit());
        if !valid {
            return Err(Refusal::new(format!(
                "'{}' is not a percentage like 12.5 (at most two decimals).",
                raw.trim()
            )));
        }
        let bps = whole.parse::<i64>().expect("digits") * 100
            + format!("{fraction:0<2}").parse::<i64>().expect("digits");
        Self::new(bps)
    }

    pub fn value(self) -> i64 {
        self.0
    }

    /// "12.5%", "7%", "0.25%".
    pub fn percent_text(self) -> String {
        percent_text(self.0)
    }
}

pub fn percent_text(bps: i64) -> String {
    let whole = bps / 100;
    let fraction = bps % 100;
    if fraction == 0 {
        format!("{whole}%")
    } else {
        format!(
            "{whole}.{}%",
            format!("{fraction:02}").trim_end_matches('0')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd() -> Currency {
        Currency::parse("usd").unwrap()
    }

    #[test]
    fn currencies_know_their_minor_unit() {
        assert_eq!(usd().code(), "USD");
        assert_eq!(usd().decimals(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().decimals(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().decimals(), 3);
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
    }

    #[test]
    fn parses_amounts_as_people_type_them() {
        assert_eq!(Money::parse("1,250.5", usd()).unwrap().minor, 125_050);
        assert_eq!(Money::parse("1250", usd()).unwrap().minor, 125_000);
        assert_eq!(Money::parse(".75", usd()).unwrap().minor, 75);
        assert_eq!(Money::parse("-3.5", usd()).unwrap().minor, -350);
        assert_eq!(
            Money::parse("500", Currency::parse("JPY").unwrap())
                .unwrap()
                .minor,
            500
        );
    }

    #[test]
    fn refuses_what_would_need_rounding_or_is_not_a_number() {
        assert!(Money::parse("1.005", usd())
            .unwrap_err()
            .contains("at most 2 decimal"));
        assert!(Money::parse("1.5", Currency::parse("JPY").unwrap()).is_err());
        assert!(Money::parse("abc", usd()).is_err());
        assert!(Money::parse("", usd()).is_err());
        assert!(Money::parse("99999999999999999999", usd()).is_err());
    }

    #[test]
    fn amounts_above_the_ceiling_are_refused_in_the_currencys_own_units() {
        assert_eq!(
            Money::parse("10,000,000,000.00", usd()).unwrap().minor,
            MAX_AMOUNT_MINOR
        );
        assert_eq!(
            Money::parse("10000000000.01", usd()).unwrap_err(),
            "That amount is too large: Concord accepts at most 10,000,000,000.00 USD."
        );
        assert!(Money::parse("-92233720368547758.07", usd()).is_err());
        let jpy = Currency::parse("JPY").unwrap();
        assert!(Money::parse("1000000000001", jpy)
            .unwrap_err()
            .contains("1,000,000,000,000 JPY"));
    }

    #[test]
    fn sums_never_wrap() {
        assert_eq!(sum_minor([i64::MAX, i64::MAX, -5]), i64::MAX);
        assert_eq!(sum_minor([i64::MIN, -1]), i64::MIN);
        assert_eq!(sum_minor([MAX_AMOUNT_MINOR; 6]), 6 * MAX_AMOUNT_MINOR);
        assert_eq!(sum_minor(std::iter::empty()), 0);
    }

    #[test]
    fn formats_with_separators() {
        assert_eq!(Money::new(125_050, usd()).to_string(), "1,250.50 USD");
        assert_eq!(Money::new(-5, usd()).amount_text(), "-0.05");
        assert_eq!(
            Money::new(1_000_000, Currency::parse("JPY").unwrap()).amount_text(),
            "1,000,000"
        );
    }

    #[test]
    fn percentages_become_basis_points() {
        assert_eq!(BasisPoints::parse_percent("12.5").unwrap().value(), 1250);
        assert_eq!(BasisPoints::parse_percent("7%").unwrap().value(), 700);
        assert_eq!(BasisPoints::parse_percent("0.25").unwrap().value(), 25);
        assert!(BasisPoints::parse_percent("100.01").is_err());
        assert!(BasisPoints::parse_percent("1.234").is_err());
        assert!(BasisPoints::parse_percent("-1").is_err());
        assert_eq!(percent_text(1250), "12.5%");
        assert_eq!(percent_text(25), "0.25%");
    }

    proptest! {
        #[test]
        fn formatted_amounts_parse_back(minor in -1_000_000_000_000i64..1_000_000_000_000i64) {
            let money = Money::new(minor, usd());
            prop_assert_eq!(Money::parse(&money.amount_text(), usd()).unwrap(), money);
        }

        #[test]
        fn percent_text_parses_back(bps in 0i64..=10_000) {
            prop_assert_eq!(BasisPoints::parse_percent(&percent_text(bps)).unwrap().value(), bps);
        }
    }
}
