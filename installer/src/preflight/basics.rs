//! What ferry needs of every host before anything else: a known machine the bundle carries,
//! a supported OS, systemd, curl on the registry host, and the binaries each role installs.

use bundle_format::FileRole;

use super::{Context, Finding, Verdict, finding};
use crate::host::facts::HostFacts;
use crate::host::os;
use crate::inventory::Role;

pub fn check(context: &Context<'_>, host: &HostFacts, out: &mut Vec<Finding>) {
    let name = &host.name;
    let index = context.index;
    let Some(platform) = &host.platform else {
        out.push(finding(
            name,
            "platform",
            Verdict::Fail,
            format!("machine `{}` (uname -m)", host.machine),
            "amd64, arm64, arm, 386, ppc64le, s390x, riscv64 or loong64 Linux",
            "install onto a host of a machine ferry knows",
        ));
        return;
    };
    let carried = index.platforms.is_empty() || index.platforms.iter().any(|p| p.runs_on(platform));
    out.push(finding(
        name,
        "platform",
        if carried {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        platform.to_string(),
        format!(
            "one the bundle carries ({})",
            index
                .platforms
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!("export the bundle for {platform} too"),
    ));
    out.push(finding(
        name,
        "os",
        if host.os_family.is_some() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        format!("{} {}", host.os_id, host.os_version),
        os::SUPPORTED,
        "install onto a supported OS",
    ));
    out.push(finding(
        name,
        "systemd",
        if host.systemd {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        if host.systemd { "PID 1" } else { "not PID 1" },
        "systemd as PID 1",
        "ferry manages services with systemd: use a host booted with it",
    ));
    if host.roles.contains(&Role::Registry) && context.own_registry {
        out.push(finding(
            name,
            "curl",
            if host.curl {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            if host.curl { "present" } else { "missing" },
            "curl, for the registry's health check",
            "install curl",
        ));
        let has = index
            .file_with_role(&FileRole::Registry, platform)
            .is_some();
        out.push(finding(
            name,
            "bundle-files",
            if has { Verdict::Pass } else { Verdict::Fail },
            if has {
                "registry binary carried"
            } else {
                "no `registry` file"
            },
            format!("a file with role `registry` for {platform}"),
            "add the registry binary to the manifest (role: registry), or pass --registry-url",
        ));
    }
    if context.inventory.cluster.is_some()
        && (host.roles.contains(&Role::Server) || host.roles.contains(&Role::Agent))
    {
        let has = index.file_with_role(&FileRole::K3s, platform).is_some();
        out.push(finding(
            name,
            "bundle-files",
            if has { Verdict::Pass } else { Verdict::Fail },
            if has {
                "k3s binary carried"
            } else {
                "no `k3s` file"
            },
            format!("a file with role `k3s` for {platform}"),
            "add the k3s binary to the manifest (docs/k3s.md)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bundle_format::{BundleIndex, Digest, Platform};
    use serde_json::json;

    use super::super::{Context, Verdict, check};
    use crate::host::OsFamily;
    use crate::host::facts::HostFacts;
    use crate::inventory::{Role, parse_inventory};

    fn index() -> BundleIndex {
        let zero = Digest::of(b"").to_string();
        let file = |name: &str, role: &str| {
            json!({"name": name, "sha256": zero, "size": 0, "mode": "0755",
                   "platform": "linux/amd64", "role": role, "source": "t",
                   "reference": format!("files/{name}:linux-amd64"), "digest": zero, "blobs": []})
        };
        serde_json::from_value(json!({
            "formatVersion": 1, "name": "t", "version": "1", "platforms": ["linux/amd64"],
            "images": [], "charts": [],
            "files": [file("registry", "registry"), file("k3s", "k3s")],
            "layout": {"ociLayout": {"digest": zero, "size": 0}, "indexJson": {"digest": zero, "size": 0}},
            "blobs": []
        }))
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn facts(name: &str, roles: Vec<Role>) -> HostFacts {
        HostFacts {
            name: name.into(),
            address: "10.0.0.1".into(),
            registry: None,
            roles,
            machine: "x86_64".into(),
            platform: Platform::of_linux_machine("x86_64"),
            os_id: "debian".into(),
            os_version: "12".into(),
            os_family: Some(OsFamily::Debian),
            systemd: true,
            curl: true,
        }
    }

    fn failures(hosts: Vec<HostFacts>) -> Vec<String> {
        let inventory = parse_inventory(
            "apiVersion: ferry/v1alpha1\nkind: Inventory\nmetadata: {name: t}\nspec:\n  hosts:\n    - {name: r, address: 10.0.0.1, roles: [registry]}\n    - {name: n, address: 10.0.0.2, roles: [server]}\n  registry: {host: r}\n  cluster: {}\n",
            Path::new("t.yaml"),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let hosts: Vec<_> = hosts.into_iter().map(|h| (h, None)).collect();
        let report = check(&Context {
            index: &index(),
            inventory: &inventory,
            own_registry: true,
            hosts: &hosts,
            blob_sizes: &Default::default(),
        });
        report
            .findings
            .iter()
            .filter(|f| f.verdict == Verdict::Fail)
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn unknown_machines_and_os_families_fail_with_what_is_supported() {
        let good = vec![
            facts("r", vec![Role::Registry]),
            facts("n", vec![Role::Server]),
        ];
        assert_eq!(failures(good.clone()), Vec::<String>::new());

        let mut alpine = good.clone();
        alpine[1].os_id = "alpine".into();
        alpine[1].os_family = None;
        let problems = failures(alpine);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("n: os FAIL: alpine")
                && problems[0].contains("debian")
                && problems[0].contains("rocky"),
            "{problems:?}"
        );

        let mut sparc = good.clone();
        sparc[0].machine = "sparc64".into();
        sparc[0].platform = None;
        let problems = failures(sparc);
        assert!(
            problems.len() == 1 && problems[0].contains("`sparc64`"),
            "{problems:?}"
        );

        let mut arm = good;
        arm[1].platform = Platform::of_linux_machine("aarch64");
        let problems = failures(arm);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("n: platform FAIL: linux/arm64"))
                && problems
                    .iter()
                    .any(|p| p.contains("a file with role `k3s` for linux/arm64")),
            "{problems:?}"
        );
    }
}
