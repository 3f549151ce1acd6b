//! Free space and inodes on each file system install writes to, against what it writes there
//! ([`super::needs`]), summed per file system: several paths on one disk share its space.

use std::collections::BTreeMap;

use super::needs::needs;
use super::probe::Probe;
use super::{Context, Finding, Verdict, finding};
use crate::host::facts::HostFacts;

/// What install may leave free on a file system before the check warns: a tenth of it.
const MARGIN_PERCENT: u64 = 10;

#[derive(Default)]
struct OnDisk {
    bytes: u64,
    inodes: u64,
    free_bytes: u64,
    free_inodes: u64,
    what: Vec<String>,
}

pub fn check(context: &Context<'_>, facts: &HostFacts, probe: &Probe, out: &mut Vec<Finding>) {
    let Some(host) = context.inventory.host(&facts.name) else {
        return;
    };
    let lacking_bytes: u64 = probe
        .lacking_blobs
        .iter()
        .filter_map(|hex| context.blob_sizes.get(hex))
        .sum();
    let lacking = Some((lacking_bytes, probe.lacking_blobs.len() as u64));
    let mut disks: BTreeMap<&str, OnDisk> = BTreeMap::new();
    for need in needs(
        context.index,
        context.inventory,
        host,
        context.own_registry,
        lacking,
        facts.platform.as_ref(),
    ) {
        let Some(space) = probe.disks.iter().find(|d| d.path == need.path) else {
            continue;
        };
        let disk = disks.entry(space.mount.as_str()).or_default();
        disk.bytes += need.bytes;
        disk.inodes += need.inodes;
        disk.free_bytes = space.free_bytes;
        disk.free_inodes = space.free_inodes;
        disk.what.push(format!("{} in {}", need.what, need.path));
    }
    for (mount, disk) in disks {
        let what = disk.what.join(", ");
        out.push(finding(
            &facts.name,
            "disk-space",
            verdict(disk.bytes, disk.free_bytes),
            format!("{} free on {mount}", bytes(disk.free_bytes)),
            format!("{} for {what}", bytes(disk.bytes)),
            format!("free space on {mount}, or move what is there to another disk"),
        ));
        if disk.free_inodes != u64::MAX {
            out.push(finding(
                &facts.name,
                "disk-inodes",
                verdict(disk.inodes, disk.free_inodes),
                format!("{} inodes free on {mount}", disk.free_inodes),
                format!("about {} inodes for {what}", disk.inodes),
                format!("remove files on {mount}, or give it more inodes"),
            ));
        }
    }
}

/// Fail when it does not fit; warn when it leaves less than the margin.
pub fn verdict(needed: u64, free: u64) -> Verdict {
    if needed > free {
        Verdict::Fail
    } else if free - needed < free / 100 * MARGIN_PERCENT {
        Verdict::Warn
    } else {
        Verdict::Pass
    }
}

/// Bytes for people: `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_fits_leaves_too_little_or_does_not_fit() {
        assert_eq!(verdict(50, 1000), Verdict::Pass);
        assert_eq!(verdict(950, 1000), Verdict::Warn);
        assert_eq!(verdict(1000, 1000), Verdict::Warn);
        assert_eq!(verdict(1001, 1000), Verdict::Fail);
        assert_eq!(verdict(0, 0), Verdict::Pass);
        assert_eq!(bytes(3 << 30), "3.0 GiB");
    }
}
