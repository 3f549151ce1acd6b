//! A bundle's expiry (docs/bundle-format.md §4.2): an instant in the signed index after which
//! readers refuse the bundle unless told otherwise. The clock trusted is the reader's own: the
//! far side's system clock where verify, push or install runs.

use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, Time, UtcOffset};

/// Why an `--expires` value was refused.
#[derive(Debug, thiserror::Error)]
pub enum ExpiryInputError {
    #[error(
        "`{0}` is not a duration (30d, 12h, 4w) or a date (2027-01-31, or RFC 3339 such as \
         2027-01-31T12:00:00Z)"
    )]
    Unreadable(String),
    #[error("`{given}` is {expires}, which is not in the future (now {now})")]
    InThePast {
        given: String,
        expires: String,
        now: String,
    },
}

/// The expiry `text` means at `now`: a duration from now (`30d`, `12h`, `4w`), the end of a
/// day in UTC (`2027-01-31` is valid through that day), or an RFC 3339 instant. Always in UTC,
/// whole seconds, in the future.
pub fn parse_expiry(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, ExpiryInputError> {
    let unreadable = || ExpiryInputError::Unreadable(text.to_owned());
    let trimmed = text.trim();
    let expires = if let Some(instant) = relative(trimmed, now) {
        instant
    } else if let Ok(date) = Date::parse(
        trimmed,
        time::macros::format_description!("[year]-[month]-[day]"),
    ) {
        date.next_day()
            .ok_or_else(unreadable)?
            .with_time(Time::MIDNIGHT)
            .assume_utc()
    } else {
        OffsetDateTime::parse(trimmed, &Rfc3339).map_err(|_| unreadable())?
    };
    let expires = expires
        .to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|_| unreadable())?;
    if expires <= now {
        return Err(ExpiryInputError::InThePast {
            given: text.to_owned(),
            expires: format_instant(expires),
            now: format_instant(now),
        });
    }
    Ok(expires)
}

fn relative(text: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let unit = text.chars().last()?;
    let amount: i64 = text.get(..text.len() - unit.len_utf8())?.parse().ok()?;
    if amount <= 0 || amount > 100 * 366 {
        return None;
    }
    let duration = match unit {
        'h' => Duration::hours(amount),
        'd' => Duration::days(amount),
        'w' => Duration::weeks(amount),
        _ => return None,
    };
    now.checked_add(duration)
}

/// An instant as the index writes it: RFC 3339, UTC, whole seconds (`2027-01-31T00:00:00Z`).
pub fn format_instant(instant: OffsetDateTime) -> String {
    let utc = instant.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// The instant an index's `expires` field names, if it is in the one form the format allows.
pub fn read_instant(text: &str) -> Option<OffsetDateTime> {
    let instant = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    (format_instant(instant) == text).then_some(instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        read_instant("2026-11-30T10:20:30Z").unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn durations_dates_and_instants() {
        let at = |text: &str| parse_expiry(text, now()).map(format_instant).ok();
        assert_eq!(at("30d").as_deref(), Some("2026-12-30T10:20:30Z"));
        assert_eq!(at("12h").as_deref(), Some("2026-11-30T22:20:30Z"));
        assert_eq!(at("2w").as_deref(), Some("2026-12-14T10:20:30Z"));
        assert_eq!(at("2027-01-31").as_deref(), Some("2027-02-01T00:00:00Z"));
        assert_eq!(
            at("2027-01-31T12:00:00+02:00").as_deref(),
            Some("2027-01-31T10:00:00Z")
        );
        for bad in [
            "",
            "d",
            "0d",
            "-3d",
            "3y",
            "30 days",
            "2027-13-01",
            "yesterday",
        ] {
            assert!(matches!(
                parse_expiry(bad, now()),
                Err(ExpiryInputError::Unreadable(_))
            ));
        }
        for past in ["2026-11-29", "2020-01-01T00:00:00Z"] {
            assert!(matches!(
                parse_expiry(past, now()),
                Err(ExpiryInputError::InThePast { .. })
            ));
        }
    }

    #[test]
    fn only_the_canonical_form_is_read() {
        assert!(read_instant("2027-02-01T00:00:00Z").is_some());
        for other in [
            "2027-02-01T00:00:00+00:00",
            "2027-02-01T00:00:00.5Z",
            "2027-02-01",
            "2027-02-01t00:00:00z",
        ] {
            assert!(read_instant(other).is_none(), "{other}");
        }
    }
}
