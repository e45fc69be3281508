//! The filter of the log page: parsed from the query string, validated, and written back into
//! the links of the pager.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use mep24web_platform::audit::AuditAction;
use serde::{Deserialize, Serialize};

/// Maximum length of the text searched for in actor and target names, in characters.
const MAX_SEARCH_CHARS: usize = 100;

/// Field name → locale key of the message shown next to that field.
pub(super) type FieldErrors = BTreeMap<&'static str, &'static str>;

/// The query string as sent. Every field defaults to empty, so no query string is malformed.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct FilterQuery {
    pub action: String,
    pub actor: String,
    pub target: String,
    pub from: String,
    pub to: String,
    pub page: String,
}

/// A validated filter; the times are UTC bounds of whole days in the tenant's time zone.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Filter {
    pub action: Option<AuditAction>,
    pub actor: Option<String>,
    pub target: Option<String>,
    /// Events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events before this time (the start of the day after the "to" date).
    pub before: Option<DateTime<Utc>>,
    /// 1-based page number as requested; the handler clamps it to the last page.
    pub page: u64,
}

impl FilterQuery {
    /// Validates the query. Unknown action codes and unreadable page numbers fall back to
    /// "all" and page 1, because they only come from edited URLs; a bad date is reported.
    pub(super) fn validate(&self, zone: chrono_tz::Tz) -> Result<Filter, FieldErrors> {
        let mut errors = FieldErrors::new();
        let from_date = parse_date_field(&self.from, "from", &mut errors);
        let to_date = parse_date_field(&self.to, "to", &mut errors);
        if let (Some(from), Some(to)) = (from_date, to_date)
            && from > to
        {
            errors.insert("to", "audit.log.error_range");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Filter {
            action: AuditAction::from_code(self.action.trim()),
            actor: search_text(&self.actor),
            target: search_text(&self.target),
            from: from_date.and_then(|date| start_of_day(date, zone)),
            before: to_date
                .and_then(|date| date.checked_add_days(Days::new(1)))
                .and_then(|date| start_of_day(date, zone)),
            page: self.page.trim().parse::<u64>().unwrap_or(1).max(1),
        })
    }

    /// Returns the query string of this filter on another page.
    pub(super) fn with_page(&self, page: u64) -> String {
        let mut query = self.clone();
        query.page = page.to_string();
        serde_urlencoded::to_string(&query).unwrap_or_default()
    }
}

fn parse_date_field(raw: &str, field: &'static str, errors: &mut FieldErrors) -> Option<NaiveDate> {
    let value = raw.trim();
    if value.is_empty() {
        return None;
    }
    let date = NaiveDate::parse_from_str(value, "%d.%m.%Y").ok();
    if date.is_none() {
        errors.insert(field, "audit.log.error_date");
    }
    date
}

fn search_text(raw: &str) -> Option<String> {
    let text: String = raw.trim().chars().take(MAX_SEARCH_CHARS).collect();
    (!text.is_empty()).then_some(text)
}

/// Returns midnight of `date` in `zone` as UTC. On a day whose midnight is skipped by a
/// daylight-saving change, the first existing time of the day after midnight is used.
fn start_of_day(date: NaiveDate, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let midnight = date.and_time(NaiveTime::MIN);
    zone.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            let one_hour_later = midnight + chrono::Duration::hours(1);
            zone.from_local_datetime(&one_hour_later).earliest()
        })
        .map(|local| local.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from: &str, to: &str) -> FilterQuery {
        FilterQuery {
            from: from.to_owned(),
            to: to.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn dates_become_berlin_day_bounds() {
        let filter = query("01.12.2026", "01.12.2026")
            .validate(chrono_tz::Europe::Berlin)
            .unwrap();
        let from = Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap();
        let before = Utc.with_ymd_and_hms(2026, 12, 1, 23, 0, 0).unwrap();
        assert_eq!(filter.from, Some(from));
        assert_eq!(filter.before, Some(before));
    }

    #[test]
    fn invalid_date_is_reported() {
        let errors = query("2026-12-01", "31.02.2026")
            .validate(chrono_tz::Europe::Berlin)
            .unwrap_err();
        assert_eq!(errors.get("from"), Some(&"audit.log.error_date"));
        assert_eq!(errors.get("to"), Some(&"audit.log.error_date"));
    }

    #[test]
    fn reversed_range_is_reported() {
        let errors = query("02.12.2026", "01.12.2026")
            .validate(chrono_tz::Europe::Berlin)
            .unwrap_err();
        assert_eq!(errors.get("to"), Some(&"audit.log.error_range"));
    }

    #[test]
    fn unknown_action_and_page_fall_back() {
        let raw = FilterQuery {
            action: "drop_table".to_owned(),
            page: "zwei".to_owned(),
            ..Default::default()
        };
        let filter = raw.validate(chrono_tz::Europe::Berlin).unwrap();
        assert_eq!(filter.action, None);
        assert_eq!(filter.page, 1);
    }

    #[test]
    fn pager_link_keeps_filter() {
        let raw = FilterQuery {
            action: "login_failed".to_owned(),
            actor: "Anna & Co".to_owned(),
            ..Default::default()
        };
        assert_eq!(
            raw.with_page(3),
            "action=login_failed&actor=Anna+%26+Co&target=&from=&to=&page=3"
        );
    }
}
