//! Money is integer minor units plus an ISO 4217 currency; rates are basis points. No floats anywhere: amounts typed
//! by people are parsed digit by digit, and anything finer than the currency's minor unit is refused, not rounded.

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
    pub fn parse(raw: &str) -> Result<Self, String> {
        let upper = raw.trim().to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(format!(
                "'{}' is not a three-letter ISO currency code such as USD or EUR.",
                raw.trim()
            ));
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
    pub fn parse(raw: &str, currency: Currency) -> Result<Self, String> {
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
            return Err(format!(
                "'{}' is not an amount; write it like 1250.00.",
                raw.trim()
            ));
        }
        if fraction.len() > decimals {
            return Err(format!(
                "{} amounts have at most {} decimal places.",
                currency, decimals
            ));
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
            .ok_or_else(|| "That amount is too large.".to_string())?;
        Ok(Self {
            minor: if negative { -minor } else { minor },
            currency,
        })
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
        if i > 0 && (digits.len() - i) % 3 == 0 {
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
    pub fn new(bps: i64) -> Result<Self, String> {
        if (0..=10_000).contains(&bps) {
            Ok(Self(bps))
        } else {
            Err("A rate must be between 0% and 100%.".into())
        }
    }

    /// Parses a percentage as typed ("12.5", "12.5%", "7") with at most two decimals.
    pub fn parse_percent(raw: &str) -> Result<Self, String> {
        let text = raw.trim().trim_end_matches('%').trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let valid = !whole.is_empty()
            && whole.len() <= 3
            && whole.chars().all(|c| c.is_ascii_digit())
            && fraction.len() <= 2
            && fraction.chars().all(|c| c.is_ascii_digit());
        if !valid {
            return Err(format!(
                "'{}' is not a percentage like 12.5 (at most two decimals).",
                raw.trim()
            ));
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
