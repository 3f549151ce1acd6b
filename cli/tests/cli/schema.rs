//! `ferry schema manifest` agrees with ferry's own parser, checked by an independent validator
//! (python3-jsonschema) on the shipped examples and on documents that must fail.

use std::path::Path;
use std::process::Command;

use crate::support::{Workspace, ok, require, run};

const VALIDATE: &str = r#"
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
for path in sys.argv[2:]:
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(open(path))))
    print(path, "valid" if not errors else "invalid: " + errors[0].message)
"#;

fn validator_available() -> bool {
    Command::new("/usr/bin/python3")
        .args(["-c", "import jsonschema, yaml"])
        .status()
        .is_ok_and(|s| s.success())
}

/// path -> "valid" or "invalid: …", from the schema alone.
fn schema_verdicts(ws: &Workspace, documents: &[&Path]) -> Vec<String> {
    schema_verdicts_of(ws, "manifest", documents)
}

fn schema_verdicts_of(ws: &Workspace, kind: &str, documents: &[&Path]) -> Vec<String> {
    let schema = ws.path(&format!("{kind}.schema.json"));
    std::fs::write(
        &schema,
        ok(run(crate::support::ferry().args(["schema", kind]))).stdout,
    )
    .unwrap();
    let output = ok(run(Command::new("/usr/bin/python3")
        .args(["-c", VALIDATE])
        .arg(&schema)
        .args(documents)));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_schema_accepts_the_examples_and_rejects_what_the_parser_rejects() {
    if !require(
        validator_available(),
        "python3-jsonschema and python3-yaml for /usr/bin/python3",
    ) {
        return;
    }
    let ws = Workspace::new();
    let examples: Vec<_> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
    assert!(examples.len() >= 2);
    let head = "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {name: t, version: '1'}\n";
    let invalid = [
        format!("{head}spec:\n  imagez: []\n"),
        format!("{head}spec:\n  platforms: [linux/amd46]\n"),
        format!("{head}spec:\n  charts:\n    - {{path: ./c, repo: 'https://x'}}\n"),
        format!("{head}spec:\n  charts:\n    - {{repo: 'https://x', name: c}}\n"),
        format!("{head}spec:\n  files:\n    - {{name: f, url: 'https://x/f'}}\n"),
        format!("{head}spec:\n  files:\n    - {{name: f, path: /bin/sh, mode: '999'}}\n"),
        "apiVersion: ferry/v2\nkind: Manifest\nmetadata: {name: t, version: '1'}\nspec: {}\n"
            .to_owned(),
    ];
    let invalid_paths: Vec<_> = invalid
        .iter()
        .enumerate()
        .map(|(i, text)| ws.write(&format!("bad{i}.yaml"), text))
        .collect();
    let mut documents: Vec<&Path> = examples.iter().map(|p| p.as_path()).collect();
    documents.extend(invalid_paths.iter().map(|p| p.as_path()));
    let verdicts = schema_verdicts(&ws, &documents);
    for (path, verdict) in documents.iter().zip(&verdicts) {
        let expect_valid = examples.iter().any(|e| e == path);
        assert_eq!(
            verdict.ends_with("valid") && !verdict.contains("invalid"),
            expect_valid,
            "{verdict}"
        );
        // and ferry's parser says the same about the invalid ones
        if !expect_valid {
            let output = run(crate::support::ferry().args([
                "export".as_ref(),
                "-m".as_ref(),
                path.as_os_str(),
                "-o".as_ref(),
                ws.path("x.tar.zst").as_os_str(),
                "--unsigned".as_ref(),
            ]));
            assert_eq!(
                output.status.code(),
                Some(1),
                "ferry also refuses {}",
                path.display()
            );
        }
    }
}

#[test]
fn the_inventory_schema_accepts_the_example_and_rejects_what_the_parser_rejects() {
    if !require(
        validator_available(),
        "python3-jsonschema and python3-yaml for /usr/bin/python3",
    ) {
        return;
    }
    let ws = Workspace::new();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/inventory/three-hosts.yaml");
    installer::inventory::load_inventory(&example).expect("ferry parses the example");
    let head = "apiVersion: ferry/v1alpha1\nkind: Inventory\nmetadata: {name: t}\nspec:\n";
    let invalid = [
        format!("{head}  hosts:\n    - {{name: a, adress: 10.0.0.1}}\n  registry: {{host: a}}\n"),
        format!(
            "{head}  hosts:\n    - {{name: a, address: 10.0.0.1, roles: [master]}}\n  registry: {{host: a}}\n"
        ),
        format!("{head}  hosts: []\n  registry: {{host: a}}\n"),
        format!(
            "{head}  hosts:\n    - {{name: a, address: 10.0.0.1, hostKeys: ['md5:00']}}\n  registry: {{host: a}}\n"
        ),
        format!(
            "{head}  hosts:\n    - {{name: a, address: 10.0.0.1}}\n  registry: {{host: a, storage: relative/dir}}\n"
        ),
        format!(
            "{head}  hosts:\n    - {{name: a, address: 10.0.0.1}}\n  registry: {{host: a, tls: {{certificate: c.pem}}}}\n"
        ),
        // Values that would reach a host file or a command: refused by both.
        format!(
            "{head}  hosts:\n    - {{name: a, address: 10.0.0.1}}\n  registry: {{host: a, storage: \"/srv/x\\nExecStartPre=/bin/sh\"}}\n"
        ),
        format!(
            "{head}  hosts:\n    - {{name: a, address: 10.0.0.1}}\n  registry: {{host: a, storage: /srv/../etc}}\n"
        ),
        format!(
            "{head}  hosts:\n    - {{name: a, address: 10.0.0.1}}\n  registry: {{host: a, auth: {{user: 'a:b'}}}}\n"
        ),
        format!(
            "{head}  hosts:\n    - {{name: '-a', address: 10.0.0.1}}\n  registry: {{host: '-a'}}\n"
        ),
        format!(
            "{head}  hosts:\n    - {{name: a, address: '$(reboot)'}}\n  registry: {{host: a}}\n"
        ),
        format!(
            "{head}  ssh: {{user: '-oProxyCommand=x'}}\n  hosts:\n    - {{name: a, address: 10.0.0.1}}\n  registry: {{host: a}}\n"
        ),
        format!(
            "{head}  hosts:\n    - {{name: a, address: 10.0.0.1, roles: [server]}}\n  registry: {{host: a}}\n  cluster: {{extraArgs: {{server: [\"--x\\nExecStartPre=/bin/sh\"]}}}}\n"
        ),
    ];
    let paths: Vec<_> = invalid
        .iter()
        .enumerate()
        .map(|(i, text)| ws.write(&format!("inventory{i}.yaml"), text))
        .collect();
    let mut documents: Vec<&Path> = vec![example.as_path()];
    documents.extend(paths.iter().map(|p| p.as_path()));
    let verdicts = schema_verdicts_of(&ws, "inventory", &documents);
    assert!(verdicts[0].ends_with(" valid"), "{}", verdicts[0]);
    for (path, verdict) in paths.iter().zip(&verdicts[1..]) {
        assert!(verdict.contains("invalid"), "{verdict}");
        assert!(
            installer::inventory::load_inventory(path).is_err(),
            "ferry accepts {}",
            path.display()
        );
    }
}
