//! Money in integer micro-units of one currency.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of money in micro-units (1/1,000,000) of the cluster's currency.
///
/// Integer so that sums are exact. Written in scenario files as a decimal number or string
/// (`0.192` or `"0.192"`), with at most six decimal places.
///
/// ```
/// use spillway::Money;
/// let price: Money = "0.192".parse()?;
/// assert_eq!(price.micros(), 192_000);
/// assert_eq!(price.to_string(), "0.192");
/// # Ok::<(), spillway::model::MoneyError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// A money amount that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid money amount {input:?}: {why}")]
pub struct MoneyError {
    /// The offending text.
    pub input: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);

    /// An amount of `micros` micro-units.
    pub const fn from_micros(micros: i64) -> Money {
        Money(micros)
    }

    /// The amount in micro-units.
    pub const fn micros(self) -> i64 {
        self.0
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(input: &str) -> Result<Money, MoneyError> {
        let err = |why| MoneyError { input: input.to_string(), why };
        let s = input.trim();
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(err("no digits"));
        }
        if !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(err("only digits and one decimal point are allowed"));
        }
        if frac.len() > 6 {
            return Err(err("more than six decimal places"));
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| err("too large"))? };
        let frac_micros: i64 = format!("{frac:0<6}").parse().map_err(|_| err("bad fraction"))?;
        let micros =
            whole.checked_mul(1_000_000).and_then(|w| w.checked_add(frac_micros)).ok_or_else(|| err("too large"))?;
        Ok(Money(if negative { -micros } else { micros }))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / 1_000_000, abs % 1_000_000);
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let frac = format!("{frac:06}");
            write!(f, "{sign}{whole}.{}", frac.trim_end_matches('0'))
        }
    }
}

/// Serialized as a JSON/YAML number (`0.192`); every amount of up to about 9 billion currency
/// units round-trips exactly, since six decimals fit an `f64`'s precision there.
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0 as f64 / 1_000_000.0)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
            Float(f64),
        }
        let text = match Raw::deserialize(deserializer)? {
            Raw::Text(s) => s,
            Raw::Int(i) => i.to_string(),
            // Shortest round-trip text of the float, so 0.192 stays "0.192".
            Raw::Float(f) => f.to_string(),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        for (text, micros, shown) in [
            ("0.192", 192_000, "0.192"),
            ("1", 1_000_000, "1"),
            ("+2.5", 2_500_000, "2.5"),
            ("-0.000001", -1, "-0.000001"),
            (".5", 500_000, "0.5"),
        ] {
            let m: Money = text.parse().unwrap();
            assert_eq!(m.micros(), micros, "{text}");
            assert_eq!(m.to_string(), shown);
        }
        for bad in ["", ".", "1.2.3", "abc", "0.0000001", "99999999999999999999"] {
            assert!(bad.parse::<Money>().is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_accepts_numbers_and_strings() {
        let m: Money = serde_json::from_str("0.192").unwrap();
        assert_eq!(m.micros(), 192_000);
        let m: Money = serde_json::from_str("\"3\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "3.0");
        let m: Money = serde_json::from_str("0.01502").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "0.01502");
        assert_eq!(serde_json::from_str::<Money>(&serde_json::to_string(&m).unwrap()).unwrap(), m);
    }
}
