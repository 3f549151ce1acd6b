//! Injected chart values never point an image at a path the private registry does not hold
//! (docs/k3s.md, "Chart values"). One chart per shape, packaged with real helm; installed on the
//! test bed; each chart rendered by real helm with the values ferry wrote into its HelmChart
//! manifest; every rendered image either held by the private registry at that path, or an
//! original reference a real containerd on a node pulls through its mirrors.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::install::{DNS_NAME, cluster_inventory, host_text, install, pull_inspect};
use crate::support::testbed::{on_host, testbed};
use crate::support::{Workspace, ok, require_tools, run, stderr, stdout};

/// (chart name, values.yaml, template). Each shape of docs/k3s.md.
const CHARTS: &[(&str, &str, &str)] = &[
    (
        // Bitnami style: per-image maps with `registry`, a helper that lets a set
        // global.imageRegistry win over each image's own, images from two upstreams.
        "bitnamish",
        "global:\n  imageRegistry: \"\"\nimage:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.25.0\nmetrics:\n  image:\n    registry: quay.io\n    repository: prometheus/nginx-exporter\n    tag: 0.11.0\n",
        "{{- define \"img\" -}}{{- $r := .img.registry -}}{{- if .global.imageRegistry -}}{{- $r = .global.imageRegistry -}}{{- end -}}{{ $r }}/{{ .img.repository }}:{{ .img.tag }}{{- end -}}\n- image: {{ include \"img\" (dict \"img\" .Values.image \"global\" .Values.global) }}\n- image: {{ include \"img\" (dict \"img\" .Values.metrics.image \"global\" .Values.global) }}\n",
    ),
    (
        // One upstream, templates prefix the global, maps without `registry`.
        "globalonly",
        "global:\n  imageRegistry: \"\"\nimage:\n  repository: library/hello\n  tag: \"1.0\"\n",
        "- image: {{ with .Values.global.imageRegistry }}{{ . }}/{{ end }}{{ .Values.image.repository }}:{{ .Values.image.tag }}\n",
    ),
    (
        // Two upstreams, templates prefix a global with a default, a map without `registry`.
        "globaldefault",
        "global:\n  imageRegistry: \"\"\nimage:\n  repository: library/hello\n  tag: \"1.0\"\nsidecar:\n  image: quay.io/apps/app1:1.0\n",
        "- image: {{ .Values.global.imageRegistry | default \"docker.io\" }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}\n- image: {{ .Values.sidecar.image }}\n",
    ),
    (
        // No global anywhere: maps without `registry` hold the full repository.
        "plainmaps",
        "image:\n  repository: quay.io/apps/app1\n  tag: \"1.0\"\nother:\n  repository: hello\n  tag: \"1.0\"\n",
        "- image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n- image: {{ .Values.other.repository }}:{{ .Values.other.tag }}\n",
    ),
    (
        // `image: "repo:tag"` strings, and an image inside a list (left alone).
        "strings",
        "app:\n  image: docker.io/bitnami/nginx:1.25.0\nextra:\n  - image: quay.io/apps/app1:1.0\n",
        "- image: {{ .Values.app.image }}\n{{- range .Values.extra }}\n- image: {{ .image }}\n{{- end }}\n",
    ),
    (
        // The same shape as bitnamish, with injectRegistry: never in the inventory.
        "untouched",
        "global:\n  imageRegistry: \"\"\nimage:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.25.0\n",
        "- image: {{ .Values.global.imageRegistry | default .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}\n",
    ),
];

fn package_chart(ws: &Workspace, name: &str, values: &str, images: &str) -> PathBuf {
    let dir = ws.path(&format!("src/{name}"));
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\nappVersion: \"1.0\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), values).unwrap();
    // Helpers (`define`) go to _helpers.tpl, as charts keep them; the rest into a Pod.
    let (helpers, containers): (Vec<&str>, Vec<&str>) =
        images.lines().partition(|l| l.starts_with("{{- define"));
    std::fs::write(dir.join("templates/_helpers.tpl"), helpers.join("\n")).unwrap();
    std::fs::write(
        dir.join("templates/pod.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n{}",
            containers
                .iter()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        ),
    )
    .unwrap();
    let out = ws.path("charts");
    std::fs::create_dir_all(&out).unwrap();
    ok(run(Command::new("helm")
        .arg("package")
        .arg(&dir)
        .arg("-d")
        .arg(&out)));
    out.join(format!("{name}-0.1.0.tgz"))
}

fn manifest(ws: &Workspace, fixtures: &Path, charts: &[PathBuf]) -> PathBuf {
    let f = fixtures.display();
    let standin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/k3s-standin.sh");
    let charts: String = charts
        .iter()
        .map(|c| format!("    - path: {}\n", c.display()))
        .collect();
    ws.write(
        "charts.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: shapes, version: 1.0.0}}
spec:
  images:
    - {{name: docker.io/bitnami/nginx:1.25.0, from: 'oci-layout:{f}/images/shared:app1', platforms: [linux/amd64]}}
    - {{name: quay.io/prometheus/nginx-exporter:0.11.0, from: 'oci-layout:{f}/images/shared:app2', platforms: [linux/amd64]}}
    - {{name: docker.io/library/hello:1.0, from: 'oci-layout:{f}/images/hello:1.0'}}
    - {{name: quay.io/apps/app1:1.0, from: 'oci-layout:{f}/images/shared:app1', platforms: [linux/amd64]}}
  charts:
{charts}  files:
    - {{name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}}
    - {{name: k3s, path: {standin}, role: k3s, mode: \"0755\", platform: linux/amd64}}
",
            standin = standin.display()
        ),
    )
}

/// `hello:1.0` -> `docker.io/library/hello:1.0`, as containerd names it.
fn normalized(reference: &str) -> String {
    let first = reference.split('/').next().unwrap_or_default();
    let qualified = first.contains('.') || first.contains(':') || first == "localhost";
    match (qualified, reference.contains('/')) {
        (true, _) => reference.to_owned(),
        (false, true) => format!("docker.io/{reference}"),
        (false, false) => format!("docker.io/library/{reference}"),
    }
}

fn rendered_images(ws: &Workspace, chart: &Path, values: &Path) -> Vec<String> {
    let output = ok(run(Command::new("helm")
        .env("HELM_CONFIG_HOME", ws.path("helm"))
        .env("HELM_CACHE_HOME", ws.path("helm"))
        .args(["template", "shape"])
        .arg(chart)
        .arg("-f")
        .arg(values)));
    stdout(&output)
        .lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("image: "))
        .map(|i| i.trim_matches('"').to_owned())
        .collect()
}

#[test]
fn every_rendered_image_is_held_by_the_registry_or_resolved_by_the_mirrors() {
    let Some(bed) = testbed() else { return };
    bed.reset();
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    if !require_tools(&["helm", "skopeo"]) {
        return;
    }
    let ws = Workspace::new();
    let charts: Vec<PathBuf> = CHARTS
        .iter()
        .map(|(name, values, images)| package_chart(&ws, name, values, images))
        .collect();
    let manifest = manifest(&ws, &fixtures, &charts);
    // Export's lint names the images at risk of the charts whose templates read a global
    // registry while their images come from several upstreams, and only those.
    let bundle = ws.path("shapes.tar.zst");
    let exported = ok(run(&mut ws.export_command(&manifest, &bundle)));
    let lint = stderr(&exported);
    for (chart, flagged) in [
        ("bitnamish", true),
        ("globaldefault", true),
        ("globalonly", false),
        ("plainmaps", false),
        ("strings", false),
    ] {
        assert_eq!(
            lint.contains(&format!(
                "chart {chart}: its templates read global.imageRegistry"
            )),
            flagged,
            "{chart}: {lint}"
        );
    }
    assert!(
        lint.contains("quay.io/prometheus/nginx-exporter:0.11.0 (`metrics.image`)"),
        "{lint}"
    );

    let base = std::fs::read_to_string(cluster_inventory(&ws, &bed, "ferry=shapes")).unwrap();
    let inventory = ws.write(
        "shapes-inventory.yaml",
        &format!("{base}    charts:\n      untouched: {{injectRegistry: never}}\n"),
    );
    ok(install(&ws, &bundle, &inventory, &[]));
    let h1 = bed.hosts[0].address.clone();
    let node = bed.hosts[2].address.clone();
    host_text(&bed, &node, "systemctl start containerd");
    let private = format!("{DNS_NAME}:5000/");
    for ((name, _, _), chart) in CHARTS.iter().zip(&charts) {
        let manifest = host_text(
            &bed,
            &h1,
            &format!("cat /var/lib/rancher/k3s/server/manifests/ferry-chart-{name}.yaml"),
        );
        let helm_chart: serde_json::Value = serde_saphyr::from_str(&manifest).unwrap();
        let values_file = ws.write(
            &format!("{name}-values.yaml"),
            helm_chart["spec"]["valuesContent"].as_str().unwrap_or("{}"),
        );
        let images = rendered_images(&ws, chart, &values_file);
        assert!(!images.is_empty(), "{name}: nothing rendered");
        for image in &images {
            match image.strip_prefix(&private) {
                Some(path) => assert!(
                    pull_inspect(&ws, &format!("{h1}:5000"), path)
                        .status
                        .success(),
                    "{name}: {image} is not in the private registry"
                ),
                None => {
                    let pulled = on_host(
                        &bed,
                        &node,
                        &format!(
                            "ctr -n ferry-shapes images pull --hosts-dir /etc/containerd/certs.d {}",
                            normalized(image)
                        ),
                    );
                    assert!(
                        pulled.status.success(),
                        "{name}: {image} does not resolve through the mirrors: {}",
                        String::from_utf8_lossy(&pulled.stderr)
                    );
                }
            }
        }
        // The rule, as it shows in what rendered.
        match *name {
            "bitnamish" => assert_eq!(
                images,
                [
                    format!("{private}docker.io/bitnami/nginx:1.25.0"),
                    format!("{private}quay.io/prometheus/nginx-exporter:0.11.0")
                ]
            ),
            "globalonly" => assert_eq!(images, [format!("{private}docker.io/library/hello:1.0")]),
            "untouched" => assert_eq!(images, ["docker.io/bitnami/nginx:1.25.0"]),
            "strings" => assert_eq!(
                images,
                [
                    format!("{private}docker.io/bitnami/nginx:1.25.0"),
                    "quay.io/apps/app1:1.0".to_owned()
                ]
            ),
            _ => {}
        }
    }
}
