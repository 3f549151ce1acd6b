//! The host's clock against this machine's. TLS certificates and a bundle's signed expiry
//! depend on it: past 30 s it warns; it fails when the host would judge the registry's
//! certificate (valid from 1 January of last year for 3 years, docs/security.md) or the
//! bundle's expiry otherwise than this machine does.

use super::probe::Probe;
use super::{Context, Finding, Verdict, finding};
use crate::host::facts::HostFacts;

pub const WARN_AFTER_SECONDS: i64 = 30;

/// The host's offset from this machine, and the uncertainty of the reading (half the time
/// the question took).
pub fn offset(probe: &Probe) -> (i64, i64) {
    let (before, after) = probe.asked_at;
    let middle = before + (after - before) / 2;
    (probe.host_time - middle, (after - before + 1) / 2)
}

/// The verdict on an offset: `host_now` is the host's time, `certificate` the validity
/// window of a certificate made now, `expires` the bundle's expiry, all unix seconds.
pub fn verdict(
    offset: i64,
    host_now: i64,
    certificate: (i64, i64),
    expires: Option<i64>,
    local_now: i64,
) -> Verdict {
    let cert_ok = host_now >= certificate.0 && host_now < certificate.1;
    let expiry_agrees = expires.is_none_or(|at| (host_now >= at) == (local_now >= at));
    if !cert_ok || !expiry_agrees {
        Verdict::Fail
    } else if offset.abs() > WARN_AFTER_SECONDS {
        Verdict::Warn
    } else {
        Verdict::Pass
    }
}

/// The validity of a registry certificate made now (registry_tls: 1 January of last year,
/// for three years after this year's).
pub fn certificate_window(now: time::OffsetDateTime) -> (i64, i64) {
    let year = now.year();
    let start = time::Date::from_calendar_date(year - 1, time::Month::January, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .unwrap_or(i64::MIN);
    let end = time::Date::from_calendar_date(year + 3, time::Month::January, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .unwrap_or(i64::MAX);
    (start, end)
}

pub fn check(context: &Context<'_>, facts: &HostFacts, probe: &Probe, out: &mut Vec<Finding>) {
    let (offset, uncertainty) = offset(probe);
    let now = time::OffsetDateTime::now_utc();
    let expires = context.index.expires_at().map(|at| at.unix_timestamp());
    let verdict = verdict(
        offset,
        probe.host_time,
        certificate_window(now),
        expires,
        now.unix_timestamp(),
    );
    let host_time = time::OffsetDateTime::from_unix_timestamp(probe.host_time)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| probe.host_time.to_string());
    out.push(finding(
        &facts.name,
        "clock",
        verdict,
        format!("{offset:+} s (±{uncertainty} s) from this machine; the host says {host_time}"),
        format!(
            "within {WARN_AFTER_SECONDS} s, and never so far that the registry certificate or the bundle's expiry is judged otherwise"
        ),
        "set the host's clock (chrony or timedatectl set-ntp true, against the site's time source)",
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warn_past_thirty_seconds_fail_when_certificates_or_expiry_disagree() {
        let now = 1_800_000_000;
        let cert = (now - 400 * 86_400, now + 1000 * 86_400);
        assert_eq!(verdict(5, now + 5, cert, None, now), Verdict::Pass);
        assert_eq!(verdict(-31, now - 31, cert, None, now), Verdict::Warn);
        // A host a year and more behind sees the new certificate as not yet valid.
        let behind = now - 500 * 86_400;
        assert_eq!(
            verdict(behind - now, behind, cert, None, now),
            Verdict::Fail
        );
        // The bundle expires in a minute: a host two minutes ahead already sees it expired.
        assert_eq!(
            verdict(120, now + 120, cert, Some(now + 60), now),
            Verdict::Fail
        );
        assert_eq!(
            verdict(20, now + 20, cert, Some(now + 60), now),
            Verdict::Pass
        );
        let probe = Probe {
            host_time: 1000,
            asked_at: (990, 994),
            hostname: String::new(),
            machine_id: String::new(),
            cgroup_fs: String::new(),
            cgroup_controllers: Vec::new(),
            modules: Vec::new(),
            ip_forward: String::new(),
            bridge_nf_call_iptables: String::new(),
            selinux: String::new(),
            firewalld: String::new(),
            listening: Vec::new(),
            disks: Vec::new(),
            lacking_blobs: Vec::new(),
        };
        assert_eq!(offset(&probe), (8, 2));
    }
}
