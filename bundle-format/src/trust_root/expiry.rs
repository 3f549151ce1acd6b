//! TUF's timestamps: `YYYY-MM-DDTHH:MM:SSZ`, always UTC.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn parse(text: &str) -> Result<OffsetDateTime, String> {
    let shaped = text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T';
    let parsed = OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .filter(|_| shaped);
    parsed.ok_or_else(|| format!("its expiry `{text}` is not YYYY-MM-DDTHH:MM:SSZ"))
}

pub fn format(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}
