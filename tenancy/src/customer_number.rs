//! Customer numbers: the numeric tenant id that people read, type and quote.
//!
//! A customer number has 1 to 9 decimal digits and no leading zeros, so each number has exactly
//! one written form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// First customer number that the platform assigns automatically. Lower numbers can only be
/// assigned by hand.
pub const FIRST_CUSTOMER_NUMBER: i64 = 10001;

/// Largest valid customer number, the largest number with 9 digits.
pub const MAX_CUSTOMER_NUMBER: i64 = 999_999_999;

/// Maximum number of digits in a customer number.
const MAX_DIGITS: usize = 9;

/// A validated customer number from 1 to 999 999 999.
///
/// Serializes as a JSON number. Deserializing rejects numbers outside that range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "i64", try_from = "i64")]
pub struct CustomerNumber(i64);

/// Reason why a text or number is not a valid customer number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCustomerNumber {
    #[error("customer number is empty")]
    Empty,

    #[error(
        "customer number contains the invalid character {character:?}; only digits 0-9 are allowed"
    )]
    InvalidCharacter { character: char },

    #[error("customer number has {digits} digits, at most {MAX_DIGITS} are allowed")]
    TooLong { digits: usize },

    #[error("customer number must not start with 0")]
    LeadingZero,

    #[error("customer number {value} is out of range, expected 1 to {MAX_CUSTOMER_NUMBER}")]
    OutOfRange { value: i64 },
}

impl CustomerNumber {
    /// Parses a customer number typed by a person, such as `"10001"` or `" 10 001 "`.
    ///
    /// Surrounding whitespace and spaces between the digits are ignored. Only the ASCII digits
    /// 0-9 count as digits.
    pub fn parse(input: &str) -> Result<CustomerNumber, InvalidCustomerNumber> {
        let digits: String = input.trim().chars().filter(|c| *c != ' ').collect();

        if digits.is_empty() {
            return Err(InvalidCustomerNumber::Empty);
        }
        if let Some(character) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return Err(InvalidCustomerNumber::InvalidCharacter { character });
        }
        if digits.len() > MAX_DIGITS {
            return Err(InvalidCustomerNumber::TooLong {
                digits: digits.len(),
            });
        }
        if digits.len() > 1 && digits.starts_with('0') {
            return Err(InvalidCustomerNumber::LeadingZero);
        }

        // At most 9 ASCII digits always fit in an i64, so this error arm is never taken. It
        // exists so that the function cannot panic.
        let value: i64 = digits.parse().map_err(|_| InvalidCustomerNumber::TooLong {
            digits: digits.len(),
        })?;
        CustomerNumber::try_from(value)
    }

    /// Wraps `value` if it is a valid customer number from 1 to 999 999 999.
    pub fn new(value: i64) -> Option<CustomerNumber> {
        CustomerNumber::try_from(value).ok()
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for CustomerNumber {
    type Error = InvalidCustomerNumber;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        if (1..=MAX_CUSTOMER_NUMBER).contains(&value) {
            Ok(CustomerNumber(value))
        } else {
            Err(InvalidCustomerNumber::OutOfRange { value })
        }
    }
}

impl From<CustomerNumber> for i64 {
    fn from(number: CustomerNumber) -> Self {
        number.0
    }
}

impl FromStr for CustomerNumber {
    type Err = InvalidCustomerNumber;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CustomerNumber::parse(s)
    }
}

impl fmt::Display for CustomerNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> Result<i64, InvalidCustomerNumber> {
        CustomerNumber::parse(input).map(CustomerNumber::get)
    }

    #[test]
    fn parse_accepts_plain_number() {
        assert_eq!(parsed("10001"), Ok(10001));
        assert_eq!(parsed("1"), Ok(1));
        assert_eq!(parsed("999999999"), Ok(999_999_999));
    }

    #[test]
    fn parse_trims_whitespace() {
        assert_eq!(parsed("  10001\t\n"), Ok(10001));
    }

    #[test]
    fn parse_ignores_inner_spaces() {
        assert_eq!(parsed("10 001"), Ok(10001));
        assert_eq!(parsed(" 1 0 0 0 1 "), Ok(10001));
        assert_eq!(parsed("999 999 999"), Ok(999_999_999));
    }

    #[test]
    fn parse_rejects_inner_tab() {
        assert_eq!(
            parsed("10\t001"),
            Err(InvalidCustomerNumber::InvalidCharacter { character: '\t' })
        );
    }

    #[test]
    fn parse_rejects_empty() {
        assert_eq!(parsed(""), Err(InvalidCustomerNumber::Empty));
        assert_eq!(parsed("   "), Err(InvalidCustomerNumber::Empty));
    }

    #[test]
    fn parse_rejects_non_digits() {
        let cases = [
            ("abc", 'a'),
            ("100a1", 'a'),
            ("-5", '-'),
            ("+5", '+'),
            ("10.001", '.'),
            ("10_001", '_'),
            ("1e5", 'e'),
            ("0x10", 'x'),
            ("12\0", '\0'),
            // ARABIC-INDIC DIGIT ONE, numeric in Unicode but not an ASCII digit.
            ("\u{0661}23", '\u{0661}'),
        ];
        for (input, character) in cases {
            assert_eq!(
                parsed(input),
                Err(InvalidCustomerNumber::InvalidCharacter { character }),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn parse_rejects_too_many_digits() {
        assert_eq!(
            parsed("1000000000"),
            Err(InvalidCustomerNumber::TooLong { digits: 10 })
        );
        assert_eq!(
            parsed(&"9".repeat(30)),
            Err(InvalidCustomerNumber::TooLong { digits: 30 })
        );
    }

    #[test]
    fn parse_rejects_leading_zero() {
        assert_eq!(parsed("010001"), Err(InvalidCustomerNumber::LeadingZero));
        assert_eq!(parsed("00"), Err(InvalidCustomerNumber::LeadingZero));
        assert_eq!(parsed("0 1"), Err(InvalidCustomerNumber::LeadingZero));
    }

    #[test]
    fn parse_rejects_zero() {
        assert_eq!(
            parsed("0"),
            Err(InvalidCustomerNumber::OutOfRange { value: 0 })
        );
    }

    #[test]
    fn new_checks_range() {
        assert_eq!(CustomerNumber::new(1).map(CustomerNumber::get), Some(1));
        assert_eq!(
            CustomerNumber::new(999_999_999).map(CustomerNumber::get),
            Some(999_999_999)
        );
        assert_eq!(CustomerNumber::new(0), None);
        assert_eq!(CustomerNumber::new(-1), None);
        assert_eq!(CustomerNumber::new(1_000_000_000), None);
        assert_eq!(CustomerNumber::new(i64::MIN), None);
        assert_eq!(CustomerNumber::new(i64::MAX), None);
    }

    #[test]
    fn first_number_is_valid() {
        assert_eq!(FIRST_CUSTOMER_NUMBER, 10001);
        assert_eq!(
            CustomerNumber::new(FIRST_CUSTOMER_NUMBER).map(CustomerNumber::get),
            Some(10001)
        );
    }

    #[test]
    fn display_prints_digits() {
        assert_eq!(
            CustomerNumber::parse("10 001").map(|n| n.to_string()),
            Ok("10001".to_owned())
        );
    }

    #[test]
    fn from_str_parses() {
        assert_eq!("10001".parse::<CustomerNumber>().map(i64::from), Ok(10001));
        assert_eq!(
            "0".parse::<CustomerNumber>(),
            Err(InvalidCustomerNumber::OutOfRange { value: 0 })
        );
    }

    #[test]
    fn serde_uses_number() {
        let number = CustomerNumber::new(10001);
        let json = number.map(|n| serde_json::to_string(&n).map_err(|e| e.to_string()));
        assert_eq!(json, Some(Ok("10001".to_owned())));

        let back = serde_json::from_str::<CustomerNumber>("10001").map(CustomerNumber::get);
        assert_eq!(back.ok(), Some(10001));
    }

    #[test]
    fn serde_rejects_invalid() {
        assert!(serde_json::from_str::<CustomerNumber>("0").is_err());
        assert!(serde_json::from_str::<CustomerNumber>("-3").is_err());
        assert!(serde_json::from_str::<CustomerNumber>("1000000000").is_err());
        assert!(serde_json::from_str::<CustomerNumber>("\"10001\"").is_err());
        assert!(serde_json::from_str::<CustomerNumber>("1.5").is_err());
    }

    #[test]
    fn error_messages_are_english() {
        assert_eq!(
            InvalidCustomerNumber::TooLong { digits: 10 }.to_string(),
            "customer number has 10 digits, at most 9 are allowed"
        );
        assert_eq!(
            InvalidCustomerNumber::OutOfRange { value: 0 }.to_string(),
            "customer number 0 is out of range, expected 1 to 999999999"
        );
        assert_eq!(
            InvalidCustomerNumber::InvalidCharacter { character: 'a' }.to_string(),
            "customer number contains the invalid character 'a'; only digits 0-9 are allowed"
        );
    }
}
