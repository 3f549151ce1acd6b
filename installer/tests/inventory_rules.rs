//! Every inventory value that reaches a host file or a command is checked by the loader: a
//! hostile value is refused with its file:line:col, the rule it breaks and a hint, and never
//! reaches a host.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use installer::inventory::parse_inventory;

/// A valid inventory with `{field}` replaced by the value under test.
fn inventory(field: &str, value: &str) -> String {
    let text = r#"apiVersion: ferry/v1alpha1
kind: Inventory
metadata: {name: site}
spec:
  ssh:
    user: ${ssh_user}
  hosts:
    - name: ${name}
      address: ${address}
      roles: [registry, server]
    - name: node-10
      address: 10.0.0.10
      user: ${host_user}
      roles: [agent]
  registry:
    host: ${registry_host}
    storage: ${storage}
    dnsName: registry.example.internal
    auth: {user: ${auth_user}}
  cluster:
    extraArgs:
      server: [${server_arg}]
      agent: ["--node-label=a=b"]
"#;
    let defaults = [
        ("ssh_user", "root"),
        ("name", "node-1"),
        ("address", "10.0.0.1"),
        ("host_user", "admin"),
        ("registry_host", "node-1"),
        ("storage", "/var/lib/ferry/registry"),
        ("auth_user", "ferry"),
        ("server_arg", "--disable=traefik"),
    ];
    let mut out = text.to_owned();
    for (key, default) in defaults {
        let chosen = if key == field { value } else { default };
        out = out.replace(&format!("${{{key}}}"), chosen);
    }
    out
}

fn refused(field: &str, value: &str) -> String {
    let text = inventory(field, value);
    match parse_inventory(&text, Path::new("site.yaml")) {
        Ok(_) => panic!("{field} = {value} was accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_valid_inventory_loads() {
    let loaded = parse_inventory(&inventory("", ""), Path::new("site.yaml")).unwrap();
    assert_eq!(loaded.hosts.len(), 2);
    assert_eq!(loaded.registry.user, "ferry");
}

#[test]
fn hostile_values_are_refused_at_their_location_with_the_rule() {
    let cases = [
        // (field, YAML value, line:col, words of the rule)
        (
            "storage",
            "\"/srv/x\\nExecStartPre=/bin/sh -c id\"",
            "site.yaml:17:14",
            "not a safe absolute path",
        ),
        (
            "storage",
            "\"/srv/a}, b: {c\"",
            "site.yaml:17:14",
            "not a safe absolute path",
        ),
        (
            "storage",
            "/srv/../etc",
            "site.yaml:17:14",
            "not a safe absolute path",
        ),
        (
            "storage",
            "relative/dir",
            "site.yaml:17:14",
            "not a safe absolute path",
        ),
        (
            "auth_user",
            "\"ops\\nother:$2y$04$abc\"",
            "site.yaml:19:18",
            "not a portable user name",
        ),
        (
            "auth_user",
            "\"a:b\"",
            "site.yaml:19:18",
            "not a portable user name",
        ),
        (
            "auth_user",
            "\"x\\\"\\n---\\nkind: ClusterRoleBinding\"",
            "site.yaml:19:18",
            "not a portable user name",
        ),
        (
            "ssh_user",
            "\"-oProxyCommand=x\"",
            "site.yaml:6:11",
            "not a portable user name",
        ),
        (
            "host_user",
            "\"a b\"",
            "site.yaml:13:13",
            "not a portable user name",
        ),
        (
            "address",
            "\"10.0.0.1\\\" x\"",
            "site.yaml:9:16",
            "neither an IP address nor a DNS name",
        ),
        (
            "address",
            "\"$(reboot)\"",
            "site.yaml:9:16",
            "neither an IP address nor a DNS name",
        ),
        (
            "name",
            "\"-node\"",
            "site.yaml:8:13",
            "not a valid host name",
        ),
        (
            "name",
            "\"--kubeconfig=/x\"",
            "site.yaml:8:13",
            "not a valid host name",
        ),
        (
            "server_arg",
            "\"--x\\nExecStartPre=/bin/sh\"",
            "site.yaml:22:16",
            "holds a newline or control character",
        ),
    ];
    for (field, value, at, rule) in cases {
        let message = refused(field, value);
        assert!(
            message.starts_with(at) && message.contains(rule) && message.contains("; "),
            "{field} = {value}: {message}"
        );
    }
}

#[test]
fn percent_and_dollar_are_legitimate_in_arguments() {
    let text = inventory(
        "server_arg",
        "\"--kubelet-arg=eviction-hard=imagefs.available<15%\", \"--x=$HOME\"",
    );
    let loaded = parse_inventory(&text, Path::new("site.yaml")).unwrap();
    assert_eq!(
        loaded.cluster.unwrap().server_args,
        [
            "--kubelet-arg=eviction-hard=imagefs.available<15%",
            "--x=$HOME"
        ]
    );
}

#[test]
fn registry_ports_users_and_chart_switches_are_checked() {
    let base = inventory("", "");
    let loaded = parse_inventory(&base, Path::new("site.yaml")).unwrap();
    assert_eq!(loaded.registry.push_port, loaded.registry.port + 1);
    assert_eq!(loaded.registry.pull_user, "ferry-pull");
    let with = |from: &str, to: &str| {
        let text = base.replace(from, to);
        parse_inventory(&text, Path::new("site.yaml"))
    };
    // The push port must be a port of its own; the pull user another user than the push one.
    let same_port = with(
        "    dnsName: registry.example.internal\n",
        "    dnsName: registry.example.internal\n    port: 5000\n    pushPort: 5000\n",
    )
    .unwrap_err()
    .to_string();
    assert!(same_port.contains("pushPort 5000"), "{same_port}");
    let same_user = with(
        "auth: {user: ferry}",
        "auth: {user: ferry, pullUser: ferry}",
    )
    .unwrap_err()
    .to_string();
    assert!(same_user.contains("pullUser"), "{same_user}");
    // injectRegistry: auto | never, at its location when anything else.
    let never = with(
        "  cluster:\n",
        "  cluster:\n    charts:\n      web: {injectRegistry: never}\n",
    )
    .unwrap();
    let cluster = never.cluster.unwrap();
    assert_eq!(
        cluster.inject_registry("web"),
        installer::inventory::InjectRegistry::Never
    );
    assert_eq!(
        cluster.inject_registry("other"),
        installer::inventory::InjectRegistry::Auto
    );
    let bad = with(
        "  cluster:\n",
        "  cluster:\n    charts:\n      web: {injectRegistry: sometimes}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("site.yaml:22:"), "{bad}");
    assert!(bad.contains("sometimes"), "{bad}");
    let bad_name = with(
        "  cluster:\n",
        "  cluster:\n    charts:\n      Web_1: {injectRegistry: never}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bad_name.contains("Web_1"), "{bad_name}");
    // cluster.upgrade: defaults, values, and a batch of no agents refused at its place.
    let defaults = with("  cluster:\n", "  cluster:\n").unwrap();
    let upgrade = defaults.cluster.unwrap().upgrade;
    assert_eq!((upgrade.max_unavailable, upgrade.drain), (1, false));
    let set = with(
        "  cluster:\n",
        "  cluster:\n    upgrade: {maxUnavailable: 3, drain: true}\n",
    )
    .unwrap();
    let upgrade = set.cluster.unwrap().upgrade;
    assert_eq!((upgrade.max_unavailable, upgrade.drain), (3, true));
    let zero = with(
        "  cluster:\n",
        "  cluster:\n    upgrade: {maxUnavailable: 0}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        zero.contains("site.yaml:21:31") && zero.contains("maxUnavailable must be at least 1"),
        "{zero}"
    );
    let unknown = with("  cluster:\n", "  cluster:\n    upgrade: {surge: 2}\n")
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("surge"), "{unknown}");
}

#[test]
fn package_hosts_default_to_the_cluster_nodes_and_are_checked() {
    use installer::inventory::Role;
    let base = inventory("", "");
    let with = |section: &str| {
        let text = base.replace("  cluster:\n", &format!("{section}  cluster:\n"));
        parse_inventory(&text, Path::new("site.yaml"))
    };
    let defaults = parse_inventory(&base, Path::new("site.yaml")).unwrap();
    assert_eq!(defaults.packages.roles, [Role::Server, Role::Agent]);
    let chosen = with("  packages: {roles: [], hosts: [node-10]}\n").unwrap();
    let includes = |name: &str| {
        let host = chosen.hosts.iter().find(|h| h.name == name).unwrap();
        chosen.packages.includes(host)
    };
    assert!(includes("node-10") && !includes("node-1"));
    let unknown = with("  packages: {hosts: [node-99]}\n")
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("site.yaml:20:") && unknown.contains("node-99"),
        "{unknown}"
    );
    let role = with("  packages: {roles: [worker]}\n")
        .unwrap_err()
        .to_string();
    assert!(
        role.contains("site.yaml:20:") && role.contains("unknown role `worker`"),
        "{role}"
    );
    let field = with("  packages: {nodes: [node-1]}\n")
        .unwrap_err()
        .to_string();
    assert!(
        field.contains("site.yaml:20:") && field.contains("nodes"),
        "{field}"
    );
}
