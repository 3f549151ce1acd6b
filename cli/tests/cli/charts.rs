//! Charts from a classic repository (semver ranges, a dependency to vendor), from an OCI
//! registry (pushed with `helm push`) and from local paths; every chart taken back out of the
//! bundle renders with `helm template`.

use std::path::Path;
use std::process::Command;

use crate::support::{
    HttpServer, Registry, Workspace, ok, require_fixtures, require_tools, run, stdout,
};

fn helm(dir: &Path, args: &[&str]) {
    ok(run(Command::new("helm").current_dir(dir).args(args)));
}

fn set_version(chart: &Path, version: &str) {
    let path = chart.join("Chart.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("version:") {
                format!("version: {version}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(path, text + "\n").unwrap();
}

#[test]
fn charts_from_repositories_registries_and_paths_render_from_the_bundle() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    if !require_tools(&["helm", "python3", "docker-registry", "tar", "zstd"]) {
        return;
    }
    let ws = Workspace::new();
    let repo = ws.path("repo");
    let build = ws.path("build");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::create_dir_all(&build).unwrap();
    let server = HttpServer::serve(&repo);
    let url = server.base_url.clone();

    // a classic repository: base; app, which depends on base and ships it in charts/ as
    // `helm package` requires; ranged in three versions
    let depend_on_base = |chart: &Path| {
        let path = chart.join("Chart.yaml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&format!(
            "dependencies:\n  - name: base\n    version: \"^0.1.0\"\n    repository: \"{url}\"\n"
        ));
        std::fs::write(path, text).unwrap();
    };
    helm(&build, &["create", "base"]);
    helm(&build, &["package", "base", "-d", repo.to_str().unwrap()]);
    helm(&build, &["create", "app"]);
    depend_on_base(&build.join("app"));
    std::fs::copy(
        repo.join("base-0.1.0.tgz"),
        build.join("app/charts/base-0.1.0.tgz"),
    )
    .unwrap();
    helm(&build, &["package", "app", "-d", repo.to_str().unwrap()]);
    helm(&build, &["create", "ranged"]);
    for version in ["0.1.0", "0.1.5", "0.2.0"] {
        set_version(&build.join("ranged"), version);
        helm(&build, &["package", "ranged", "-d", repo.to_str().unwrap()]);
    }
    helm(&repo, &["repo", "index", ".", "--url", &url]);
    // a chart directory straight from version control: the dependency is declared, not vendored
    helm(&build, &["create", "localapp"]);
    depend_on_base(&build.join("localapp"));

    // an OCI chart
    let registry = Registry::start();
    helm(&build, &["create", "ocichart"]);
    helm(&build, &["package", "ocichart"]);
    helm(
        &build,
        &[
            "push",
            "ocichart-0.1.0.tgz",
            &format!("oci://{}/charts", registry.address),
            "--plain-http",
        ],
    );

    let f = fixtures.display();
    let manifest = ws.write(
        "m.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: charts, version: '1'}}
spec:
  charts:
    - {{repo: '{url}', name: app, version: 0.1.0}}
    - {{repo: '{url}', name: ranged, version: '>=0.1.0, <0.2.0'}}
    - {{oci: 'oci://{}/charts/ocichart', version: 0.1.0}}
    - {{path: '{f}/charts/demo'}}
    - {{path: '{f}/charts/other-0.1.0.tgz'}}
    - {{path: '{}'}}
",
            registry.address,
            build.join("localapp").display()
        ),
    );
    let bundle = ws.path("charts.tar.zst");
    let export = |bundle: &Path| {
        let mut command = ws.export_command(&manifest, bundle);
        command
            .arg("--cache-dir")
            .arg(ws.path("cache"))
            .args(["--plain-http", &registry.address]);
        ok(run(&mut command))
    };
    export(&bundle);
    assert_eq!(ws.verify(&bundle).status.code(), Some(0));
    let inspect = ok(run(crate::support::ferry().args([
        "inspect".as_ref(),
        "--json".as_ref(),
        bundle.as_os_str(),
    ])));
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let charts = json["index"]["charts"].as_array().unwrap();
    let versions: Vec<(&str, &str)> = charts
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["version"].as_str().unwrap()))
        .collect();
    assert_eq!(
        versions,
        [
            ("app", "0.1.0"),
            ("ranged", "0.1.5"),
            ("ocichart", "0.1.0"),
            ("demo", "0.1.0"),
            ("other", "0.1.0"),
            ("localapp", "0.1.0")
        ],
        "the range resolves to its highest match"
    );

    // take every chart back out of the unpacked bundle and render it
    let unpacked = ws.path("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    ok(run(Command::new("tar")
        .args(["--zstd", "-xf"])
        .arg(&bundle)
        .arg("-C")
        .arg(&unpacked)));
    for chart in charts {
        let name = chart["name"].as_str().unwrap();
        let layer = chart["blobs"][1]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let archive = ws.path(&format!("{name}.tgz"));
        std::fs::copy(unpacked.join("blobs/sha256").join(layer), &archive).unwrap();
        let rendered = ok(run(Command::new("helm")
            .arg("template")
            .arg("rel")
            .arg(&archive)));
        assert!(
            stdout(&rendered).contains("kind: Deployment"),
            "{name} renders"
        );
        if name == "app" {
            assert!(
                stdout(&rendered).contains("helm.sh/chart: base-0.1.0"),
                "the vendored dependency renders with app"
            );
        }
    }

    // a warm cache downloads no chart again
    let downloads = |server: &HttpServer| {
        ["/app-0.1.0.tgz", "/ranged-0.1.5.tgz", "/base-0.1.0.tgz"]
            .iter()
            .map(|p| server.gets(p))
            .sum::<usize>()
    };
    let before = downloads(&server);
    assert_eq!(before, 3);
    export(&ws.path("again.tar.zst"));
    assert_eq!(downloads(&server), before, "charts came from the cache");
}
