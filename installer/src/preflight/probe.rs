//! What the preflight checks read on a host, in one read-only command: the clock, identity,
//! cgroups, kernel modules and sysctls, listening sockets, file systems under the paths install
//! writes, and (on the registry host) which of the bundle's blobs its storage lacks. Printed as
//! `key=value` lines and read by name; `listen=` and `disk=` repeat.

use std::collections::HashMap;

use crate::host::files::quote;
use crate::ssh::{SshError, SshSession};

/// The kernel modules k3s loads at start.
pub const MODULES: [&str; 2] = ["overlay", "br_netfilter"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The host's clock, unix seconds, and this machine's before and after asking.
    pub host_time: i64,
    pub asked_at: (i64, i64),
    pub hostname: String,
    pub machine_id: String,
    /// `stat -f` type of /sys/fs/cgroup: `cgroup2fs` for v2.
    pub cgroup_fs: String,
    /// Controllers available: v2's cgroup.controllers, or v1's enabled ones in /proc/cgroups.
    pub cgroup_controllers: Vec<String>,
    /// Per module: `loaded`, `builtin`, `loadable`, `missing`, or `unknown` (nothing to ask).
    pub modules: Vec<(String, String)>,
    /// `net.ipv4.ip_forward`, `net.bridge.bridge-nf-call-iptables`; empty when unreadable.
    pub ip_forward: String,
    pub bridge_nf_call_iptables: String,
    /// `getenforce`'s answer, or `absent`.
    pub selinux: String,
    /// `systemctl is-active firewalld`.
    pub firewalld: String,
    pub listening: Vec<Listener>,
    pub disks: Vec<DiskSpace>,
    /// Blobs of the bundle the registry storage does not hold (registry host only).
    pub lacking_blobs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// `tcp` or `udp`.
    pub protocol: String,
    pub port: u16,
    /// The process name `ss -p` shows, if any.
    pub process: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpace {
    /// The path asked about (install writes under it).
    pub path: String,
    /// The mount point of the file system that holds it.
    pub mount: String,
    pub free_bytes: u64,
    pub free_inodes: u64,
}

/// The probe command. `paths` are where install writes; `storage` is the registry's storage
/// directory on the registry host, where stdin lists the bundle's blobs one digest hex a line.
pub fn script(paths: &[&str], storage: Option<&str>) -> String {
    let mut script = String::from(
        "printf 'host_time=%s\\n' \"$(date +%s)\"; \
         printf 'hostname=%s\\n' \"$(cat /proc/sys/kernel/hostname 2>/dev/null)\"; \
         printf 'machine_id=%s\\n' \"$(cat /etc/machine-id 2>/dev/null)\"; \
         printf 'cgroup_fs=%s\\n' \"$(stat -fc %T /sys/fs/cgroup 2>/dev/null)\"; \
         if [ -r /sys/fs/cgroup/cgroup.controllers ]; then printf 'cgroup_controllers=%s\\n' \"$(cat /sys/fs/cgroup/cgroup.controllers)\"; \
         else printf 'cgroup_controllers=%s\\n' \"$(awk 'NR>1 && $4==1 {printf \"%s \", $1}' /proc/cgroups 2>/dev/null)\"; fi; \
         kernel=$(uname -r); \
         for m in ",
    );
    script.push_str(&MODULES.join(" "));
    script.push_str(
        "; do \
           if [ -r /proc/modules ] && grep -q \"^$m \" /proc/modules; then s=loaded; \
           elif [ -r /lib/modules/$kernel/modules.builtin ] && grep -q \"/$m.ko\" /lib/modules/$kernel/modules.builtin; then s=builtin; \
           elif command -v modprobe >/dev/null 2>&1 && modprobe -n -q $m 2>/dev/null; then s=loadable; \
           elif [ -r /proc/modules ] || command -v modprobe >/dev/null 2>&1; then s=missing; \
           else s=unknown; fi; \
           printf 'module_%s=%s\\n' $m $s; \
         done; \
         printf 'ip_forward=%s\\n' \"$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)\"; \
         printf 'bridge_nf_call_iptables=%s\\n' \"$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)\"; \
         printf 'selinux=%s\\n' \"$(getenforce 2>/dev/null || echo absent)\"; \
         printf 'firewalld=%s\\n' \"$(systemctl is-active firewalld 2>/dev/null || true)\"; \
         ss -Htlnp 2>/dev/null | awk '{print \"listen=tcp \" $4 \" \" $6}'; \
         ss -Hulnp 2>/dev/null | awk '{print \"listen=udp \" $4 \" \" $6}'; ",
    );
    for path in paths {
        script.push_str(&format!(
            "d={p}; while [ ! -e \"$d\" ]; do d=$(dirname \"$d\"); done; \
             printf 'disk=%s %s %s\\n' {p} \"$(df -PB1 \"$d\" | awk 'NR==2 {{print $6\" \"$4}}')\" \"$(df -Pi \"$d\" | awk 'NR==2 {{print $4}}')\"; ",
            p = quote(path)
        ));
    }
    if let Some(storage) = storage {
        script.push_str(&format!(
            "s={}/docker/registry/v2/blobs/sha256; \
             while read -r d; do p=$(printf %.2s \"$d\"); [ -e \"$s/$p/$d/data\" ] || echo \"lacks=$d\"; done",
            quote(storage)
        ));
    }
    script
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("the host did not report `{0}`")]
    Missing(&'static str),
    #[error("the host reported `{0}` as {1:?}, which ferry cannot read")]
    Unreadable(&'static str, String),
}

/// The probe's output, by name.
pub fn parse(output: &str, asked_at: (i64, i64)) -> Result<Probe, ProbeError> {
    let mut values: HashMap<&str, &str> = HashMap::new();
    let mut listening = Vec::new();
    let mut disks = Vec::new();
    let mut lacking_blobs = Vec::new();
    for line in output.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "listen" => listening.extend(listener(value)),
            "disk" => disks.push(disk(value)?),
            "lacks" => lacking_blobs.push(value.trim().to_owned()),
            _ => {
                values.entry(key).or_insert(value.trim());
            }
        }
    }
    let get = |key: &'static str| values.get(key).copied().ok_or(ProbeError::Missing(key));
    let time = get("host_time")?;
    let host_time = time
        .parse()
        .map_err(|_| ProbeError::Unreadable("host_time", time.to_owned()))?;
    let modules = MODULES
        .iter()
        .map(|m| {
            let key = format!("module_{m}");
            let state = values.get(key.as_str()).copied().unwrap_or("unknown");
            ((*m).to_owned(), state.to_owned())
        })
        .collect();
    Ok(Probe {
        host_time,
        asked_at,
        hostname: get("hostname")?.to_owned(),
        machine_id: get("machine_id")?.to_owned(),
        cgroup_fs: get("cgroup_fs")?.to_owned(),
        cgroup_controllers: get("cgroup_controllers")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        modules,
        ip_forward: get("ip_forward")?.to_owned(),
        bridge_nf_call_iptables: get("bridge_nf_call_iptables")?.to_owned(),
        selinux: get("selinux")?.to_owned(),
        firewalld: get("firewalld")?.to_owned(),
        listening,
        disks,
        lacking_blobs,
    })
}

/// `tcp 0.0.0.0:6443 users:(("k3s-server",pid=1,fd=3))`; an address ss prints oddly is skipped.
fn listener(value: &str) -> Option<Listener> {
    let mut fields = value.split_whitespace();
    let protocol = fields.next()?.to_owned();
    let port = fields.next()?.rsplit(':').next()?.parse().ok()?;
    let process = fields
        .next()
        .and_then(|users| users.split('"').nth(1))
        .unwrap_or_default()
        .to_owned();
    Some(Listener {
        protocol,
        port,
        process,
    })
}

/// `PATH MOUNT FREE_BYTES FREE_INODES`.
fn disk(value: &str) -> Result<DiskSpace, ProbeError> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let unreadable = || ProbeError::Unreadable("disk", value.to_owned());
    let [path, mount, bytes, inodes] = fields[..] else {
        return Err(unreadable());
    };
    Ok(DiskSpace {
        path: path.to_owned(),
        mount: mount.to_owned(),
        free_bytes: bytes.parse().map_err(|_| unreadable())?,
        // Some file systems (btrfs) report no inode counts: `-` is as good as unlimited.
        free_inodes: inodes.parse().unwrap_or(u64::MAX),
    })
}

/// Probe one host; `blobs` (digest hex, one a line) go to the registry storage check.
pub async fn probe(
    session: &SshSession,
    paths: &[&str],
    storage: Option<&str>,
    blobs: &str,
) -> Result<Probe, SshError> {
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let output = session
        .run_with_input(&script(paths, storage), blobs.as_bytes())
        .await?;
    let after = time::OffsetDateTime::now_utc().unix_timestamp();
    if output.status != 0 {
        return Err(SshError::other(
            &session.host.describe(),
            format!(
                "the preflight probe failed (exit {}): {}",
                output.status,
                output.stderr_text()
            ),
            "check that sh, df, awk, ss and stat are available on it",
        ));
    }
    parse(&output.stdout_text(), (before, after)).map_err(|e| {
        SshError::other(
            &session.host.describe(),
            format!("its preflight answers are incomplete: {e}"),
            "check that sh, df, awk, ss and stat are available on it",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_name_with_repeated_listeners_and_disks() {
        let output = "host_time=1800000000\nhostname=node-1\nmachine_id=abc\ncgroup_fs=cgroup2fs\ncgroup_controllers=cpuset cpu io memory pids\nmodule_overlay=loaded\nmodule_br_netfilter=missing\nip_forward=1\nbridge_nf_call_iptables=\nselinux=absent\nfirewalld=inactive\nlisten=tcp 0.0.0.0:6443 users:((\"nginx\",pid=12,fd=3))\nlisten=udp [::]:8472 \nlisten=tcp *:bad users:\ndisk=/var/lib/ferry/registry / 1000 20\ndisk=/usr/local/bin /usr 5000 -\nlacks=aa11\n";
        let probe = parse(output, (1, 2)).unwrap();
        assert_eq!(probe.host_time, 1_800_000_000);
        assert_eq!(probe.modules[1], ("br_netfilter".into(), "missing".into()));
        assert_eq!(probe.cgroup_controllers.len(), 5);
        assert_eq!(
            probe.listening,
            vec![
                Listener {
                    protocol: "tcp".into(),
                    port: 6443,
                    process: "nginx".into()
                },
                Listener {
                    protocol: "udp".into(),
                    port: 8472,
                    process: String::new()
                },
            ]
        );
        assert_eq!(probe.disks[1].free_inodes, u64::MAX);
        assert_eq!(probe.lacking_blobs, vec!["aa11".to_owned()]);
        assert_eq!(
            parse(&output.replace("host_time=1800000000\n", ""), (1, 2)),
            Err(ProbeError::Missing("host_time"))
        );
        assert!(parse(&output.replace("/ 1000 20", "/ lots 20"), (1, 2)).is_err());
    }
}
