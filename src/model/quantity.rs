//! Exact parsing and canonical formatting of Kubernetes resource quantities.
//!
//! Kubernetes writes resource amounts (CPU, memory, pods, extended resources)
//! as *quantities*, strings such as `"250m"`, `"1.5Gi"`, `"2"` or `"1e3"`. This
//! module accepts the grammar of `k8s.io/apimachinery/pkg/api/resource`:
//!
//! ```text
//! <quantity>        ::= <signedNumber><suffix>
//! <signedNumber>    ::= <number> | "+" <number> | "-" <number>
//! <number>          ::= <digits> | <digits> "." <digits> | <digits> "." | "." <digits>
//! <suffix>          ::= <binarySI> | <decimalSI> | <decimalExponent>
//! <binarySI>        ::= "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"      (powers of 1024)
//! <decimalSI>       ::= "n" | "u" | "m" | "" | "k" | "M" | "G" | "T" | "P" | "E"
//! <decimalExponent> ::= ("e" | "E") [ "+" | "-" ] <digits>
//! ```
//!
//! Note that a bare `E` is the *exa* suffix (`"1E"` is 10^18) while `E`
//! followed by digits is an exponent (`"1E3"` is 1000).
//!
//! Deviations from Kubernetes, both deliberate:
//!
//! * leading and trailing whitespace is trimmed (the API server would reject
//!   it); whitespace *inside* a quantity (`"1 Gi"`) is still an error;
//! * values are converted to `i64` integers of a fixed unit (millis or whole
//!   units) and anything that does not fit is reported as
//!   [`QuantityError::Overflow`] instead of being silently capped.
//!
//! All arithmetic is exact: the number is kept as a decimal digit string with a
//! power-of-ten and power-of-two scale, so arbitrarily many digits and huge or
//! tiny exponents are handled without floating point and without panicking.
//! Like Kubernetes' `Value()` and `MilliValue()`, conversion rounds *up*: any
//! positive amount, however small, yields at least 1.

/// Why a quantity string could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuantityError {
    /// The input is empty or consists only of whitespace.
    #[error("empty quantity: expected a number with an optional suffix, such as \"500m\", \"2\" or \"1Gi\"")]
    Empty,
    /// The input does not follow the quantity grammar.
    #[error("malformed quantity {input:?}: {why}")]
    Malformed {
        /// The offending text, exactly as given.
        input: String,
        /// A short human explanation, e.g. `unknown suffix "Kb" (...)` or `no digits`.
        why: String,
    },
    /// The value is below zero, but requests and capacities must be zero or more.
    #[error("quantity {input:?} is negative; requests and capacities must be zero or more")]
    Negative {
        /// The offending text, exactly as given.
        input: String,
    },
    /// The value does not fit in an `i64` of the target unit.
    #[error(
        "quantity {input:?} is too large to represent in {unit} (the maximum is {max} {unit})",
        max = i64::MAX
    )]
    Overflow {
        /// The offending text, exactly as given.
        input: String,
        /// The unit the value was being converted to, e.g. `"millicores"` or `"units"`.
        unit: &'static str,
    },
}

/// Unit name reported by [`parse_millis`] on overflow.
const MILLIS_UNIT: &str = "millicores";
/// Unit name reported by [`parse_units`] on overflow.
const UNITS_UNIT: &str = "units";

/// Parses a quantity as millis (thousandths, e.g. CPU millicores).
///
/// The result is the value times 1000, rounded *up* to the next integer, as
/// Kubernetes' `Quantity::MilliValue` does for positive values. Leading and
/// trailing whitespace is ignored; `"-0"` is zero.
///
/// # Errors
///
/// [`QuantityError::Empty`] or [`QuantityError::Malformed`] if the input is not
/// a quantity, [`QuantityError::Negative`] for a value below zero and
/// [`QuantityError::Overflow`] if the result exceeds `i64::MAX`.
///
/// # Examples
///
/// ```
/// use spillway::model::quantity::{parse_millis, QuantityError};
///
/// assert_eq!(parse_millis("250m"), Ok(250));
/// assert_eq!(parse_millis("0.5"), Ok(500));
/// assert_eq!(parse_millis("2"), Ok(2000));
/// assert_eq!(parse_millis("0.1m"), Ok(1)); // rounded up
/// assert_eq!(parse_millis("1e3"), Ok(1_000_000));
/// assert!(matches!(parse_millis("-1"), Err(QuantityError::Negative { .. })));
/// ```
pub fn parse_millis(input: &str) -> Result<i64, QuantityError> {
    parse_scaled(input, 3, MILLIS_UNIT)
}

/// Parses a quantity as whole units (bytes, pods, GPUs, ...).
///
/// The result is rounded *up* to the next integer, as Kubernetes'
/// `Quantity::Value` does: `"1.5Gi"` is 1610612736, `"100m"` is 1 and
/// `"0.5Ki"` is 512. Leading and trailing whitespace is ignored; `"-0"` is
/// zero.
///
/// # Errors
///
/// [`QuantityError::Empty`] or [`QuantityError::Malformed`] if the input is not
/// a quantity, [`QuantityError::Negative`] for a value below zero and
/// [`QuantityError::Overflow`] if the result exceeds `i64::MAX`.
///
/// # Examples
///
/// ```
/// use spillway::model::quantity::parse_units;
///
/// assert_eq!(parse_units("512Mi"), Ok(536_870_912));
/// assert_eq!(parse_units("2k"), Ok(2000));
/// ```
pub fn parse_units(input: &str) -> Result<i64, QuantityError> {
    parse_scaled(input, 0, UNITS_UNIT)
}

/// Formats a millicore count canonically: whole cores as `"2"`, anything else
/// with the milli suffix as `"250m"`.
///
/// For every `millis >= 0`, `parse_millis(&format_millis(millis)) == Ok(millis)`.
/// Negative values are formatted the same way (`"-2"`, `"-250m"`) even though
/// the parsers reject them.
///
/// # Examples
///
/// ```
/// use spillway::model::quantity::format_millis;
///
/// assert_eq!(format_millis(2000), "2");
/// assert_eq!(format_millis(250), "250m");
/// ```
#[must_use]
pub fn format_millis(millis: i64) -> String {
    if millis % 1000 == 0 { (millis / 1000).to_string() } else { format!("{millis}m") }
}

/// Binary suffixes, largest first, with their power of two.
const BINARY_SUFFIXES: [(&str, u32); 6] = [("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)];

/// Formats a unit count canonically: with the largest binary suffix (`Ki` to
/// `Ei`) that represents it exactly when it is a multiple of 1024 and at least
/// 1024 (`"512Mi"`, `"1Gi"`, `"1536Mi"`), otherwise as a plain integer
/// (`"1000"`, `"7"`).
///
/// For every `units >= 0`, `parse_units(&format_units(units)) == Ok(units)`.
/// Negative values are formatted as plain integers.
///
/// # Examples
///
/// ```
/// use spillway::model::quantity::format_units;
///
/// assert_eq!(format_units(1 << 30), "1Gi");
/// assert_eq!(format_units(1536 << 20), "1536Mi");
/// assert_eq!(format_units(1000), "1000");
/// ```
#[must_use]
pub fn format_units(units: i64) -> String {
    if units >= 1024 {
        for (suffix, shift) in BINARY_SUFFIXES {
            let multiplier = 1_i64 << shift;
            if units % multiplier == 0 {
                let mut out = (units / multiplier).to_string();
                out.push_str(suffix);
                return out;
            }
        }
    }
    units.to_string()
}

/// A syntactically valid quantity, exactly: `(-1)^negative * digits * 10^exp10 * 2^exp2`.
#[derive(Debug)]
struct Parsed {
    negative: bool,
    /// Decimal digit values (0..=9), most significant first, without leading or
    /// trailing zeros. Empty means the value is zero.
    digits: Vec<u8>,
    exp10: i128,
    /// One of 0, 10, ..., 60.
    exp2: u32,
}

/// Parses `input` and converts it to an `i64` count of `10^-shift` units, rounding up.
fn parse_scaled(input: &str, shift: i128, unit: &'static str) -> Result<i64, QuantityError> {
    let parsed = parse(input)?;
    if parsed.digits.is_empty() {
        return Ok(0);
    }
    if parsed.negative {
        return Err(QuantityError::Negative { input: input.to_owned() });
    }
    ceil_to_i64(&parsed.digits, parsed.exp10 + shift, parsed.exp2)
        .ok_or_else(|| QuantityError::Overflow { input: input.to_owned(), unit })
}

fn malformed(input: &str, why: String) -> QuantityError {
    QuantityError::Malformed { input: input.to_owned(), why }
}

/// Splits a quantity into sign, significant digits and scale.
fn parse(input: &str) -> Result<Parsed, QuantityError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(QuantityError::Empty);
    }
    let bytes = text.as_bytes();
    let mut pos = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            pos = 1;
            true
        }
        Some(b'+') => {
            pos = 1;
            false
        }
        _ => false,
    };

    let int_start = pos;
    while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    let int_digits = &bytes[int_start..pos];
    let mut frac_digits: &[u8] = &[];
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let frac_start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        frac_digits = &bytes[frac_start..pos];
    }
    // Everything consumed so far is ASCII, so `pos` is a char boundary.
    let rest = text.get(pos..).unwrap_or_default();

    if int_digits.is_empty() && frac_digits.is_empty() {
        let after_sign = text.get(int_start..).unwrap_or_default();
        let why = if after_sign.starts_with(['+', '-']) {
            "more than one sign".to_owned()
        } else if rest.is_empty() {
            "no digits".to_owned()
        } else {
            format!("no digits (expected a number before {rest:?})")
        };
        return Err(malformed(input, why));
    }

    let (suffix_exp10, exp2) = interpret_suffix(rest).map_err(|why| malformed(input, why))?;

    // Significant digits: drop leading zeros, fold trailing zeros into the exponent.
    let all = int_digits.iter().chain(frac_digits).map(|b| b - b'0');
    let mut digits: Vec<u8> = all.skip_while(|&d| d == 0).collect();
    let trailing_zeros = digits.iter().rev().take_while(|&&d| d == 0).count();
    digits.truncate(digits.len() - trailing_zeros);

    let exp10 = suffix_exp10 - len_i128(frac_digits.len()) + len_i128(trailing_zeros);
    Ok(Parsed { negative, digits, exp10, exp2 })
}

/// Lossless on every supported platform; saturates rather than panicking.
fn len_i128(len: usize) -> i128 {
    i128::try_from(len).unwrap_or(i128::MAX)
}

/// Maps a suffix to `(power of ten, power of two)`, or explains why it is invalid.
fn interpret_suffix(suffix: &str) -> Result<(i128, u32), String> {
    let scale = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => {
            if let Some(exponent) = suffix.strip_prefix(['e', 'E']) {
                // "e3", "e-3", "e", "ee3" are (attempted) exponents; "Eib" is a bad suffix.
                let attempted =
                    exponent.chars().next().is_none_or(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | 'e' | 'E'));
                if attempted {
                    return parse_exponent(suffix, exponent).map(|e| (e, 0));
                }
            }
            return Err(unknown_suffix(suffix));
        }
    };
    Ok(scale)
}

/// Parses the part of a decimal exponent after the `e`/`E`: an optional sign and digits.
///
/// Magnitudes beyond `u64::MAX` saturate, which is far beyond anything that
/// could still fit (or round to anything but 0 or 1) in an `i64`.
fn parse_exponent(suffix: &str, exponent: &str) -> Result<i128, String> {
    let (negative, digits) = match exponent.as_bytes().first() {
        Some(b'-') => (true, exponent.get(1..).unwrap_or_default()),
        Some(b'+') => (false, exponent.get(1..).unwrap_or_default()),
        _ => (false, exponent),
    };
    if digits.is_empty() {
        return Err(format!("exponent {suffix:?} has no digits (write e.g. \"1e3\" or \"1e-3\")"));
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "malformed exponent {suffix:?} (expected e or E, an optional sign and digits, e.g. \"1e3\" or \"1e-3\")"
        ));
    }
    let magnitude = digits.bytes().fold(0_u64, |acc, b| acc.saturating_mul(10).saturating_add(u64::from(b - b'0')));
    let magnitude = i128::from(magnitude);
    Ok(if negative { -magnitude } else { magnitude })
}

/// Explains an unrecognised suffix.
fn unknown_suffix(suffix: &str) -> String {
    if suffix.contains(char::is_whitespace) {
        format!("unexpected whitespace in {suffix:?} (write the number and suffix together, e.g. \"1Gi\")")
    } else if suffix.starts_with('.') {
        "more than one decimal point".to_owned()
    } else if suffix.starts_with(',') {
        "use \".\" as the decimal point (and no thousands separators)".to_owned()
    } else {
        format!("unknown suffix {suffix:?} (use Ki, Mi, Gi, ... or k, M, G, ... or m for milli)")
    }
}

/// Computes `ceil(digits * 10^exp10 * 2^exp2)` for a positive value, or `None`
/// if it exceeds `i64::MAX`. `digits` must be non-empty without leading zeros.
fn ceil_to_i64(digits: &[u8], exp10: i128, exp2: u32) -> Option<i64> {
    let scaled = mul_pow2(digits, exp2);
    let len = len_i128(scaled.len());
    // Split into integer digits (still to be multiplied by 10^int_shift) and fraction digits.
    let (int_part, frac_part, int_shift): (&[u8], &[u8], i128) = if exp10 >= 0 {
        (&scaled, &[], exp10)
    } else if -exp10 >= len {
        (&[], &scaled, 0)
    } else {
        let int_len = usize::try_from(len + exp10).ok()?;
        let (int_part, frac_part) = scaled.split_at(int_len);
        (int_part, frac_part, 0)
    };
    // Without leading zeros, n digits followed by s zeros is at least 10^(n+s-1);
    // 10^20 > i64::MAX, so more than 20 digits in total cannot fit.
    if !int_part.is_empty() && len_i128(int_part.len()) + int_shift > 20 {
        return None;
    }
    let mut value = int_part.iter().try_fold(0_u128, |acc, &d| acc.checked_mul(10)?.checked_add(u128::from(d)))?;
    let shift = u32::try_from(int_shift).ok()?;
    value = value.checked_mul(10_u128.checked_pow(shift)?)?;
    if frac_part.iter().any(|&d| d != 0) {
        value = value.checked_add(1)?;
    }
    i64::try_from(value).ok()
}

/// Multiplies a decimal digit string (most significant first) by `2^exp2`, `exp2 <= 60`.
fn mul_pow2(digits: &[u8], exp2: u32) -> Vec<u8> {
    if exp2 == 0 {
        return digits.to_vec();
    }
    let factor = 1_u128 << exp2.min(64);
    let mut reversed = Vec::with_capacity(digits.len() + 20);
    let mut carry = 0_u128;
    for &d in digits.iter().rev() {
        // d * 2^64 + carry < 10 * 2^64 and carry < 2^64, so this cannot overflow.
        let current = u128::from(d) * factor + carry;
        reversed.push((current % 10) as u8);
        carry = current / 10;
    }
    while carry > 0 {
        reversed.push((carry % 10) as u8);
        carry /= 10;
    }
    while reversed.len() > 1 && reversed.last() == Some(&0) {
        reversed.pop();
    }
    reversed.reverse();
    reversed
}

#[cfg(test)]
mod tests {
    use super::*;

    const KI: i64 = 1 << 10;
    const MI: i64 = 1 << 20;
    const GI: i64 = 1 << 30;
    const TI: i64 = 1 << 40;
    const PI: i64 = 1 << 50;
    const EI: i64 = 1 << 60;

    #[test]
    fn units_valid_table() {
        let cases: &[(&str, i64)] = &[
            // plain integers and signs
            ("0", 0),
            ("7", 7),
            ("1000", 1000),
            ("+5", 5),
            ("-0", 0),
            ("+0", 0),
            ("-0.000", 0),
            ("-0Gi", 0),
            ("000123", 123),
            ("9223372036854775807", i64::MAX),
            // decimal forms
            ("5.", 5),
            (".5", 1),
            ("1.0", 1),
            ("1.5", 2),
            ("2.000", 2),
            ("0.0000000001", 1),
            ("1.000000000000000000000000001", 2),
            ("0000000000000000000000000000001", 1),
            ("1.00000000000000000000000000000000000000000000000000", 1),
            // binary SI
            ("1Ki", KI),
            ("1Mi", MI),
            ("1Gi", GI),
            ("1Ti", TI),
            ("1Pi", PI),
            ("1Ei", EI),
            ("7Ei", 7 * EI),
            ("512Mi", 536_870_912),
            ("1.5Gi", 1_610_612_736),
            ("0.5Ki", 512),
            ("0.1Ki", 103), // 102.4 rounds up
            ("1.Ki", KI),
            (".25Mi", MI / 4),
            ("0.0000000000000000001Ki", 1),
            ("8191.9999Pi", 8191 * PI + 1_125_787_316_851_940), // 0.9999 * 2^50 rounded up
            // decimal SI
            ("1n", 1),
            ("999999999n", 1),
            ("1000000000n", 1),
            ("1000000001n", 2),
            ("1u", 1),
            ("1000000u", 1),
            ("100m", 1),
            ("1000m", 1),
            ("1001m", 2),
            ("2k", 2000),
            ("1.5k", 1500),
            ("1M", 1_000_000),
            ("1G", 1_000_000_000),
            ("1T", 1_000_000_000_000),
            ("1P", 1_000_000_000_000_000),
            ("1E", 1_000_000_000_000_000_000),
            ("9.223372036854775807E", i64::MAX),
            ("0.5k", 500),
            // decimal exponents
            ("1e3", 1000),
            ("1E3", 1000),
            ("1e+3", 1000),
            ("1e-3", 1),
            ("1e0", 1),
            ("1e-0", 1),
            ("1e03", 1000),
            ("1.5E-2", 1),
            ("1.5e2", 150),
            ("15e-1", 2),
            ("1.e3", 1000),
            (".5e1", 5),
            ("0e400", 0),
            ("0.0e99999999999999999999999", 0),
            ("1e-400", 1),
            ("1e-99999999999999999999999999", 1),
            ("1e18", 1_000_000_000_000_000_000),
            ("9223372036854775807000e-3", i64::MAX),
            ("9223372036854775806001e-3", i64::MAX),
            // whitespace is trimmed
            ("  1Gi  ", GI),
            ("\t2\n", 2),
        ];
        for &(input, expected) in cases {
            assert_eq!(parse_units(input), Ok(expected), "parse_units({input:?})");
        }
    }

    #[test]
    fn millis_valid_table() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("-0", 0),
            ("-0m", 0),
            ("0.1m", 1),
            ("0.0000001m", 1),
            ("1m", 1),
            ("100m", 100),
            ("250m", 250),
            ("1500m", 1500),
            ("0.5", 500),
            ("0.25", 250),
            ("0.0001", 1),
            ("0.0015", 2),
            ("1", 1000),
            ("+1", 1000),
            ("2", 2000),
            ("1.5", 1500),
            ("2k", 2_000_000),
            ("1e3", 1_000_000),
            ("1e-3", 1),
            ("1e-4", 1),
            ("1.5E-2", 15),
            ("1n", 1),
            ("1000000n", 1),
            ("1000001n", 2),
            ("1u", 1),
            ("1000u", 1),
            ("1001u", 2),
            ("1Ki", 1_024_000),
            ("1Mi", 1_048_576_000),
            ("1M", 1_000_000_000),
            ("1T", 1_000_000_000_000_000),
            ("1P", 1_000_000_000_000_000_000),
            ("9223372036854775807m", i64::MAX),
            ("9223372036854775.807", i64::MAX),
            ("9223372036854775.806001", i64::MAX),
            ("1e-400", 1),
            ("0e400", 0),
            (" 500m ", 500),
        ];
        for &(input, expected) in cases {
            assert_eq!(parse_millis(input), Ok(expected), "parse_millis({input:?})");
        }
    }

    fn is_malformed(result: &Result<i64, QuantityError>) -> bool {
        matches!(result, Err(QuantityError::Malformed { .. }))
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        let cases = [
            "abc", "1.2.3", "1Kb", "1KB", "1K", "1kb", "1 Gi", "1\tGi", "Gi", "m", ".", "+", "-", "+.", "1e", "1e+",
            "1e-", "1ee3", "1e3.5", "1e3Gi", "1Gie3", "--1", "+-1", "-+1", "++1", "1-", "1+", "1,5", "1_000", "0x10",
            "1Gi ", // trailing space is trimmed, so ok
            "1 ", "1GiB", "1mi", "1KI", "1i", "1µ", "１", "1e١", "e3", "E", "Ei", "1.5.Gi", "1..5", "..5", "NaN",
            "inf", "1/2",
        ];
        for input in cases {
            let trimmed_ok = matches!(input, "1Gi " | "1 ");
            let units = parse_units(input);
            let millis = parse_millis(input);
            if trimmed_ok {
                assert!(units.is_ok(), "{input:?}: {units:?}");
                continue;
            }
            assert!(is_malformed(&units), "parse_units({input:?}) = {units:?}");
            assert!(is_malformed(&millis), "parse_millis({input:?}) = {millis:?}");
            if let Err(QuantityError::Malformed { input: reported, .. }) = units {
                assert_eq!(reported, input);
            }
        }
    }

    #[test]
    fn empty_inputs_are_rejected() {
        for input in ["", " ", "\t\n ", "\u{a0}"] {
            assert_eq!(parse_units(input), Err(QuantityError::Empty), "{input:?}");
            assert_eq!(parse_millis(input), Err(QuantityError::Empty), "{input:?}");
        }
    }

    #[test]
    fn negative_inputs_are_rejected() {
        for input in ["-1", "-1Gi", "-0.1m", "-1e-400", "-0.0000001", "-1e400", " -5 "] {
            let expected = Err(QuantityError::Negative { input: input.to_owned() });
            assert_eq!(parse_units(input), expected, "parse_units({input:?})");
            assert_eq!(parse_millis(input), expected, "parse_millis({input:?})");
        }
    }

    #[test]
    fn overflow_inputs_are_rejected() {
        let units_cases = [
            "9223372036854775808",
            "9223372036854775807.1",
            "8Ei",
            "8192Pi",
            "8191.999999999999999999Pi", // rounds up to 8192Pi = 2^63
            "9.223372036854775808E",
            "10E",
            "1e19",
            "1e30",
            "1e400",
            "1e99999999999999999999999999",
            "99999999999999999999999999999999999999999999999999",
            "123456789012345678901234567890e-5",
        ];
        for input in units_cases {
            assert_eq!(
                parse_units(input),
                Err(QuantityError::Overflow { input: input.to_owned(), unit: "units" }),
                "parse_units({input:?})"
            );
        }
        let millis_cases = [
            "9223372036854775808m",
            "9223372036854775807.1m",
            "9223372036854776",
            "9223372036854775.8071",
            "10P",
            "1E",
            "9Pi",
            "1e16",
            "1e400",
        ];
        for input in millis_cases {
            assert_eq!(
                parse_millis(input),
                Err(QuantityError::Overflow { input: input.to_owned(), unit: "millicores" }),
                "parse_millis({input:?})"
            );
        }
    }

    #[test]
    fn huge_inputs_do_not_panic() {
        let many_digits = "9".repeat(100_000);
        assert!(matches!(parse_units(&many_digits), Err(QuantityError::Overflow { .. })));
        let tiny = format!("0.{}1", "0".repeat(100_000));
        assert_eq!(parse_units(&tiny), Ok(1));
        assert_eq!(parse_millis(&tiny), Ok(1));
        let long_fraction = format!("1.{}", "0".repeat(100_000));
        assert_eq!(parse_units(&long_fraction), Ok(1));
        assert_eq!(parse_units(&format!("{long_fraction}Ei")), Ok(EI));
        let zeros = "0".repeat(100_000);
        assert_eq!(parse_units(&format!("{zeros}e{zeros}1")), Ok(0));
        assert_eq!(parse_units(&format!("{zeros}1e{zeros}1")), Ok(10));
        assert_eq!(parse_units(&format!("1e-{zeros}1")), Ok(1));
        assert_eq!(parse_units(&format!("{zeros}.{zeros}")), Ok(0));
        let exact = format!("1{}e-100000", "0".repeat(100_000));
        assert_eq!(parse_units(&exact), Ok(1));
    }

    #[test]
    fn error_messages_are_actionable() {
        assert_eq!(
            parse_units("12Kb").unwrap_err().to_string(),
            "malformed quantity \"12Kb\": unknown suffix \"Kb\" \
             (use Ki, Mi, Gi, ... or k, M, G, ... or m for milli)"
        );
        assert_eq!(
            parse_units("-1").unwrap_err().to_string(),
            "quantity \"-1\" is negative; requests and capacities must be zero or more"
        );
        let overflow = parse_units("1e30").unwrap_err().to_string();
        assert!(overflow.starts_with("quantity \"1e30\" is too large to represent in units"), "{overflow}");
        let overflow = parse_millis("1e30").unwrap_err().to_string();
        assert!(overflow.starts_with("quantity \"1e30\" is too large to represent in millicores"), "{overflow}");
        assert!(QuantityError::Empty.to_string().contains("empty quantity"));

        let why = |input: &str| match parse_units(input) {
            Err(QuantityError::Malformed { why, .. }) => why,
            other => panic!("expected Malformed for {input:?}, got {other:?}"),
        };
        assert_eq!(why("abc"), "no digits (expected a number before \"abc\")");
        assert_eq!(why("."), "no digits");
        assert_eq!(why("--1"), "more than one sign");
        assert_eq!(why("1.2.3"), "more than one decimal point");
        assert!(why("1 Gi").contains("whitespace"));
        assert!(why("1e").contains("no digits"));
        assert!(why("1e+").contains("no digits"));
        assert!(why("1ee3").contains("malformed exponent"));
        assert!(why("1,5").contains("decimal point"));
        assert!(why("1e3.5").contains("malformed exponent"));
        assert!(why("1EiB").starts_with("unknown suffix \"EiB\""));
        assert!(why("1Gi3").starts_with("unknown suffix"));
    }

    #[test]
    fn format_millis_table() {
        let cases: &[(i64, &str)] = &[
            (0, "0"),
            (1, "1m"),
            (250, "250m"),
            (999, "999m"),
            (1000, "1"),
            (1500, "1500m"),
            (2000, "2"),
            (1_000_000, "1000"),
            (i64::MAX, "9223372036854775807m"),
            (-250, "-250m"),
            (-2000, "-2"),
        ];
        for &(millis, expected) in cases {
            assert_eq!(format_millis(millis), expected, "format_millis({millis})");
        }
    }

    #[test]
    fn format_units_table() {
        let cases: &[(i64, &str)] = &[
            (0, "0"),
            (7, "7"),
            (512, "512"),
            (1000, "1000"),
            (1023, "1023"),
            (1024, "1Ki"),
            (1025, "1025"),
            (2048, "2Ki"),
            (1536, "1536"), // not a multiple of 1024
            (1536 * KI, "1536Ki"),
            (512 * MI, "512Mi"),
            (GI, "1Gi"),
            (1536 * MI, "1536Mi"),
            (1024 * GI, "1Ti"),
            (TI, "1Ti"),
            (PI, "1Pi"),
            (EI, "1Ei"),
            (7 * EI, "7Ei"),
            (i64::MAX, "9223372036854775807"),
            (i64::MAX - 1023, "9007199254740991Ki"),
            (8191 * PI, "8191Pi"),
            (-1024, "-1024"),
        ];
        for &(units, expected) in cases {
            assert_eq!(format_units(units), expected, "format_units({units})");
        }
    }

    #[test]
    fn format_round_trips_at_edges() {
        let values = [
            0,
            1,
            999,
            1000,
            1001,
            1023,
            1024,
            1025,
            KI * 1000,
            GI + 1,
            EI - 1,
            EI,
            i64::MAX - 1023,
            i64::MAX - 1,
            i64::MAX,
        ];
        for x in values {
            assert_eq!(parse_units(&format_units(x)), Ok(x), "units {x}");
            assert_eq!(parse_millis(&format_millis(x)), Ok(x), "millis {x}");
        }
    }

    /// Exact reference for small inputs: `ceil(numerator / denominator)`, `None` above `i64::MAX`.
    fn reference_ceil(numerator: u128, denominator: u128) -> Option<i64> {
        i64::try_from(numerator.div_ceil(denominator)).ok()
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const SUFFIXES: [(&str, u128, u128); 17] = [
            ("", 1, 1),
            ("n", 1, 1_000_000_000),
            ("u", 1, 1_000_000),
            ("m", 1, 1000),
            ("k", 1000, 1),
            ("M", 1_000_000, 1),
            ("G", 1_000_000_000, 1),
            ("T", 1_000_000_000_000, 1),
            ("P", 1_000_000_000_000_000, 1),
            ("E", 1_000_000_000_000_000_000, 1),
            ("Ki", 1 << 10, 1),
            ("Mi", 1 << 20, 1),
            ("Gi", 1 << 30, 1),
            ("Ti", 1 << 40, 1),
            ("Pi", 1 << 50, 1),
            ("Ei", 1 << 60, 1),
            ("e-2", 1, 100),
        ];

        proptest::proptest! {
            #[test]
            fn units_round_trip(x in 0..=i64::MAX) {
                prop_assert_eq!(parse_units(&format_units(x)), Ok(x));
            }

            #[test]
            fn units_round_trip_binary_multiples(m in 0..=i64::MAX, shift in 0_u32..=60) {
                let x = m >> shift << shift;
                let text = format_units(x);
                prop_assert_eq!(parse_units(&text), Ok(x), "{}", text);
            }

            #[test]
            fn millis_round_trip(x in 0..=i64::MAX) {
                prop_assert_eq!(parse_millis(&format_millis(x)), Ok(x));
            }

            #[test]
            fn millis_round_trip_whole_cores(cores in 0..=i64::MAX / 1000) {
                let x = cores * 1000;
                prop_assert_eq!(parse_millis(&format_millis(x)), Ok(x));
            }

            #[test]
            fn parse_never_panics(s in any::<String>()) {
                for v in [parse_units(&s), parse_millis(&s)].into_iter().flatten() {
                    prop_assert!(v >= 0);
                }
            }

            #[test]
            fn parse_never_panics_on_quantity_like_text(
                s in "[ +-]{0,2}[0-9]{0,25}[.]?[0-9]{0,25}[eEinumkKMGTP]{0,2}[+-]?[0-9]{0,22}[ ]?"
            ) {
                let units = parse_units(&s);
                let millis = parse_millis(&s);
                if let (Ok(u), Ok(m)) = (&units, &millis) {
                    // ceil(ceil(1000 x) / 1000) == ceil(x)
                    prop_assert_eq!(*u, (*m + 999) / 1000, "{}", s);
                }
                if let Ok(m) = millis {
                    prop_assert!(units.is_ok(), "{} millis={} units={:?}", s, m, units);
                }
            }

            #[test]
            fn decimal_matches_reference(
                int in 0_u64..1_000_000_000,
                frac in 0_u64..1_000_000,
                frac_len in 0_u32..=6,
                suffix in 0_usize..SUFFIXES.len(),
            ) {
                let (suffix, mul, div) = SUFFIXES[suffix];
                let frac = frac % 10_u64.pow(frac_len);
                let text = if frac_len == 0 {
                    format!("{int}{suffix}")
                } else {
                    format!("{int}.{frac:0width$}{suffix}", width = frac_len as usize)
                };
                let scale = 10_u128.pow(frac_len);
                let n = u128::from(int) * scale + u128::from(frac);
                for (parse, factor, unit) in [
                    (parse_units as fn(&str) -> Result<i64, QuantityError>, 1, "units"),
                    (parse_millis, 1000, "millicores"),
                ] {
                    let expected = reference_ceil(n * mul * factor, scale * div).ok_or_else(|| {
                        QuantityError::Overflow { input: text.clone(), unit }
                    });
                    prop_assert_eq!(parse(&text), expected, "{}", text);
                }
            }
        }
    }
}
