//! Dates as German spreadsheets and HR exports write them.

use chrono::NaiveDate;

/// Earliest year accepted, so that typos such as `01.03.0202` are reported, not imported.
const MIN_YEAR: i32 = 1900;
/// Latest year accepted, for the same reason as `MIN_YEAR`.
const MAX_YEAR: i32 = 2099;

/// Parses `dd.mm.yyyy`, `d.m.yyyy` or ISO `yyyy-mm-dd`, and returns `None` for anything else.
///
/// Day and month may have one or two digits in both forms and the year must have four, so
/// `01.03.24` is rejected instead of being guessed as 1924 or 2024. Dates that do not exist
/// (`31.02.2024`) and years outside 1900 to 2099 are rejected as well.
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    let (year, month, day) = if let Some((day, month, year)) = split_three(value, '.') {
        (year, month, day)
    } else {
        split_three(value, '-')?
    };

    let year = parse_digits(year, 4, 4)?;
    let month = parse_digits(month, 1, 2)?;
    let day = parse_digits(day, 1, 2)?;

    let year = i32::try_from(year).ok()?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

fn split_three(value: &str, separator: char) -> Option<(&str, &str, &str)> {
    let mut parts = value.split(separator);
    let first = parts.next()?;
    let second = parts.next()?;
    let third = parts.next()?;
    match parts.next() {
        Some(_) => None,
        None => Some((first, second, third)),
    }
}

fn parse_digits(text: &str, min_len: usize, max_len: usize) -> Option<u32> {
    let length_ok = (min_len..=max_len).contains(&text.len());
    if !length_ok || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, month, day)
    }

    #[test]
    fn parse_date_german_format() {
        assert_eq!(parse_date("01.03.2024"), date(2024, 3, 1));
        assert_eq!(parse_date("31.12.1999"), date(1999, 12, 31));
    }

    #[test]
    fn parse_date_single_digit_day_month() {
        assert_eq!(parse_date("1.3.2024"), date(2024, 3, 1));
        assert_eq!(parse_date("01.3.2024"), date(2024, 3, 1));
        assert_eq!(parse_date("1.03.2024"), date(2024, 3, 1));
    }

    #[test]
    fn parse_date_iso_format() {
        assert_eq!(parse_date("2024-03-01"), date(2024, 3, 1));
        assert_eq!(parse_date("2024-3-1"), date(2024, 3, 1));
    }

    #[test]
    fn parse_date_leap_day() {
        assert_eq!(parse_date("29.02.2024"), date(2024, 2, 29));
        assert_eq!(parse_date("29.02.2023"), None);
    }

    #[test]
    fn parse_date_rejects_impossible_dates() {
        for value in [
            "31.02.2024",
            "32.01.2024",
            "00.01.2024",
            "01.13.2024",
            "01.00.2024",
        ] {
            assert_eq!(parse_date(value), None, "{value}");
        }
    }

    #[test]
    fn parse_date_rejects_two_digit_year() {
        assert_eq!(parse_date("01.03.24"), None);
        assert_eq!(parse_date("24-03-01"), None);
    }

    #[test]
    fn parse_date_rejects_out_of_range_years() {
        assert_eq!(parse_date("01.03.0202"), None);
        assert_eq!(parse_date("31.12.1899"), None);
        assert_eq!(parse_date("01.01.2100"), None);
        assert_eq!(parse_date("01.01.1900"), date(1900, 1, 1));
    }

    #[test]
    fn parse_date_rejects_other_shapes() {
        let values = [
            "",
            "01.03.2024.",
            "01/03/2024",
            "01.03.2024 00:00",
            "2024-03-01T00:00",
            "+1.03.2024",
            "١.٣.٢٠٢٤",
            "1.2",
            "001.03.2024",
            "01.03.20245",
            "März 2024",
        ];
        for value in values {
            assert_eq!(parse_date(value), None, "{value}");
        }
    }
}
