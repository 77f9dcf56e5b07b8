//! Calendar quarters, "2026-Q4": the periods of pipeline forecasts and MDF funds.

use chrono::{Datelike, NaiveDate};

/// A calendar quarter, "2026-Q4".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quarter {
    pub year: i32,
    pub number: u32,
}

impl Quarter {
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            number: (date.month() - 1) / 3 + 1,
        }
    }

    pub fn next(self) -> Self {
        if self.number == 4 {
            Self {
                year: self.year + 1,
                number: 1,
            }
        } else {
            Self {
                year: self.year,
                number: self.number + 1,
            }
        }
    }

    pub fn previous(self) -> Self {
        if self.number == 1 {
            Self {
                year: self.year - 1,
                number: 4,
            }
        } else {
            Self {
                year: self.year,
                number: self.number - 1,
            }
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, (self.number - 1) * 3 + 1, 1).expect("valid quarter")
    }

    /// The first day of the next quarter: the range is `first_day()..end()`.
    pub fn end(self) -> NaiveDate {
        self.next().first_day()
    }

    pub fn contains(self, date: NaiveDate) -> bool {
        Quarter::of(date) == self
    }

    pub fn parse(raw: &str) -> Result<Self, crate::domain::refusal::Refusal> {
        let fail = || {
            crate::domain::refusal::Refusal::new(format!(
                "'{}' is not a quarter like 2026-Q4.",
                raw.trim()
            ))
        };
        let (year, number) = raw.trim().split_once("-Q").ok_or_else(fail)?;
        let year: i32 = year.parse().map_err(|_| fail())?;
        let number: u32 = number.parse().map_err(|_| fail())?;
        if !(1..=4).contains(&number) || !(1900..=9999).contains(&year) {
            return Err(fail());
        }
        Ok(Self { year, number })
    }
}

impl std::fmt::Display for Quarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-Q{}", self.year, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters() {
        let q = Quarter::of(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(q.to_string(), "2026-Q4");
        assert_eq!(q.next().to_string(), "2027-Q1");
        assert_eq!(q.next().previous(), q);
        assert_eq!(q.previous().to_string(), "2026-Q3");
        assert_eq!(q.first_day().to_string(), "2026-10-01");
        assert_eq!(q.end().to_string(), "2027-01-01");
        assert_eq!(Quarter::parse("2026-Q4"), Ok(q));
        assert!(Quarter::parse("2026-Q5").is_err());
    }
}
