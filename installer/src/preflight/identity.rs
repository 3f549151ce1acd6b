//! Hosts that must be told apart: node names lowercase DNS labels and unique (k3s registers
//! nodes by name), host names unique (cloned machines), and `/etc/machine-id` unique (cloned
//! images share it, and systemd, DHCP and k3s then confuse the hosts).

use super::probe::Probe;
use super::{Context, Finding, Verdict, finding};
use crate::host::facts::HostFacts;

fn label_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 63 {
        Some("not 1 to 63 characters")
    } else if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Some("has upper-case letters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        || name.starts_with('-')
        || name.ends_with('-')
    {
        Some("is not a DNS name (a-z, 0-9, - and .)")
    } else {
        None
    }
}

pub fn check(context: &Context<'_>, facts: &HostFacts, probe: &Probe, out: &mut Vec<Finding>) {
    let name = &facts.name;
    let same_name = context
        .hosts
        .iter()
        .filter(|(f, _)| &f.name == name)
        .count();
    let (verdict, measured) = match (label_problem(name), same_name) {
        (Some(problem), _) => (Verdict::Fail, format!("`{name}` {problem}")),
        (None, 2..) => (
            Verdict::Fail,
            format!("`{name}` is used by {same_name} hosts"),
        ),
        (None, _) => (Verdict::Pass, format!("`{name}`")),
    };
    out.push(finding(
        name,
        "node-name",
        verdict,
        measured,
        "a lowercase DNS name, unique in the inventory",
        "rename the host in the inventory",
    ));
    let shares = |pick: fn(&Probe) -> &str, value: &str| -> Vec<String> {
        context
            .hosts
            .iter()
            .filter(|(f, p)| &f.name != name && p.as_ref().is_some_and(|p| pick(p) == value))
            .map(|(f, _)| f.name.clone())
            .collect()
    };
    let twins = shares(|p| p.machine_id.as_str(), &probe.machine_id);
    let (verdict, measured) = if probe.machine_id.is_empty() {
        (Verdict::Warn, "empty".to_owned())
    } else if twins.is_empty() {
        (Verdict::Pass, probe.machine_id.clone())
    } else {
        (
            Verdict::Fail,
            format!("{} (the same on {})", probe.machine_id, twins.join(", ")),
        )
    };
    out.push(finding(
        name,
        "machine-id",
        verdict,
        measured,
        "an /etc/machine-id of its own",
        "the host was cloned: `rm /etc/machine-id && systemd-machine-id-setup`, then reboot",
    ));
    let twins = shares(|p| p.hostname.as_str(), &probe.hostname);
    if !twins.is_empty() {
        out.push(finding(
            name,
            "node-name",
            Verdict::Fail,
            format!(
                "host name `{}` (the same on {})",
                probe.hostname,
                twins.join(", ")
            ),
            "a host name of its own",
            "the host was cloned: `hostnamectl set-hostname NAME` on each",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_lowercase_dns_names() {
        assert_eq!(label_problem("server-1"), None);
        assert_eq!(label_problem("node.site.internal"), None);
        assert!(label_problem("Server-1").is_some());
        assert!(label_problem("-x").is_some());
        assert!(label_problem("a_b").is_some());
        assert!(label_problem(&"a".repeat(64)).is_some());
    }
}
