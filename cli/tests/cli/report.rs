//! `ferry report` opened in headless Chromium (Debian's `chromium`): the numbers the page shows
//! are checked against the bundle and ground truth through the DOM after its script ran, the
//! filter box is exercised, nothing is fetched from anywhere, names from the bundle cannot
//! become markup, and a screenshot at 1366 pixels and a printed PDF are kept as artifacts
//! (target/test-artifacts/).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sbom::{debian_like_root, dpkg_truth, layout_of};
use crate::support::{
    Workspace, ferry, index_of, ok, require_fixtures, require_tools, run, stderr,
};

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn chromium() -> Command {
    let mut command = Command::new("chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-dev-shm-usage",
    ]);
    command
}

/// The DOM after the page's script ran, for the page opened at `fragment`.
fn dom(page: &Path, fragment: &str) -> String {
    let output = ok(run(chromium()
        .arg("--dump-dom")
        .arg(format!("file://{}{fragment}", page.display()))));
    String::from_utf8(output.stdout).unwrap()
}

/// The text of the element with this id (no markup inside it).
fn text_of(dom: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let rest = &dom[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    rest[start..start + end].to_owned()
}

/// Every package row: (visible, its search text).
fn package_rows(dom: &str) -> Vec<(bool, String)> {
    dom.match_indices("<tr class=\"pkg\"")
        .map(|(at, _)| {
            let tag = &dom[at..at + dom[at..].find('>').unwrap()];
            let search = tag
                .split("data-search=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default()
                .to_owned();
            (!tag.contains(" hidden"), search)
        })
        .collect()
}

fn report(ws: &Workspace, bundle: &Path, base: Option<&Path>, name: &str) -> PathBuf {
    let page = ws.path(name);
    let mut command = ferry();
    command.arg("report").arg(bundle).arg("-o").arg(&page);
    if let Some(base) = base {
        command.arg("--base").arg(base);
    }
    ok(run(command.arg("--trusted-key").arg(ws.path("k.pub"))));
    page
}

#[test]
fn the_report_shows_what_the_bundle_holds_and_its_filter_works_in_chromium() {
    if !require_tools(&["dpkg-query", "tar", "gzip", "chromium"]) {
        return;
    }
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let root = debian_like_root(&ws);
    // A distribution whose name is markup: the page must show it as text.
    let hostile = root.join("usr/lib/python3/dist-packages/evil-1.0.dist-info");
    std::fs::create_dir_all(&hostile).unwrap();
    std::fs::write(
        hostile.join("METADATA"),
        "Metadata-Version: 2.1\nName: <img src=x onerror=alert(1)>\nVersion: 1.0\nLicense: MIT\n\n",
    )
    .unwrap();
    let manifest_of = |layout: &Path, version: &str| {
        ws.write(
            &format!("m{version}.yaml"),
            &format!(
                "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: reviewed, version: '{version}'}}\nspec:\n  images:\n    - {{name: example.org/debian-like:1.0, from: 'oci-layout:{}:1.0'}}\n  charts:\n    - path: {}/charts/demo\n  files:\n    - {{name: notes.txt, path: {}}}\n",
                layout.display(),
                fixtures.display(),
                ws.write("notes.txt", "read me\n").display()
            ),
        )
    };
    let bundle = ws.export(
        &manifest_of(&layout_of(&ws, &root, "layout"), "1"),
        "b.tar.zst",
    );
    let index = index_of(&bundle);
    let page = report(&ws, &bundle, None, "report.html");

    // Self-contained: no external script, style, font or image; the script allowed by hash.
    let html = std::fs::read_to_string(&page).unwrap();
    for forbidden in [
        " src=\"", " href=\"", "<link", "url(", "@import", "<img", "<iframe",
    ] {
        assert!(!html.contains(forbidden), "the page holds {forbidden:?}");
    }
    assert!(
        html.contains("script-src &#39;sha256-"),
        "a CSP that names the script"
    );

    let shown = dom(&page, "");
    let truth = dpkg_truth();
    assert_eq!(
        text_of(&shown, "count-images"),
        index.images.len().to_string()
    );
    assert_eq!(text_of(&shown, "count-platforms"), "1");
    // Every Debian package dpkg lists here, and the two Python distributions.
    assert_eq!(
        text_of(&shown, "count-packages"),
        (truth.len() + 2).to_string()
    );
    assert_eq!(text_of(&shown, "count-charts"), "1");
    assert_eq!(text_of(&shown, "count-files"), "1");
    assert_eq!(text_of(&shown, "bundle-id"), index.bundle_id().to_string());
    assert!(text_of(&shown, "signature").contains("trusted, valid"));
    let size = std::fs::metadata(&bundle).unwrap().len();
    assert!(
        shown.contains(&format!("data-bytes=\"{size}\"")),
        "the bundle's size"
    );
    assert!(
        shown.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the name, as text"
    );
    assert!(
        !shown.contains("<img"),
        "no element made from a package name"
    );
    assert!(shown.contains("nginx:1.16.0") && shown.contains("NOT in this bundle"));
    let rows = package_rows(&shown);
    assert_eq!(rows.len(), truth.len() + 2);
    assert!(
        rows.iter().all(|(visible, _)| *visible),
        "unfiltered: all shown"
    );
    for (name, version) in truth.iter().take(20) {
        assert!(
            rows.iter().any(|(_, s)| s.contains(&format!(
                " {} {} ",
                name.to_lowercase(),
                version.to_lowercase()
            ))),
            "{name} {version}"
        );
    }

    // The filter box: set through the page's link form, applied by its script.
    let filtered = dom(&page, "#filter=libc6%20amd64");
    let rows = package_rows(&filtered);
    let matching = |s: &str| s.contains("libc6") && s.contains("amd64");
    let visible: Vec<&String> = rows.iter().filter(|(v, _)| *v).map(|(_, s)| s).collect();
    assert!(
        !visible.is_empty() && visible.len() < rows.len(),
        "{}",
        visible.len()
    );
    assert!(visible.iter().all(|s| matching(s)));
    assert_eq!(
        visible.len(),
        rows.iter().filter(|(_, s)| matching(s)).count(),
        "every matching row is shown"
    );
    assert_eq!(text_of(&filtered, "shown"), visible.len().to_string());

    // Kept for people: a screenshot at 1366 pixels and the printed page.
    let screenshot = artifacts().join("report-1366.png");
    let _ = std::fs::remove_file(&screenshot);
    ok(run(chromium()
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--window-size=1366,2200")
        .arg(format!("file://{}", page.display()))));
    let png = std::fs::read(&screenshot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1366);
    let printed = artifacts().join("report.pdf");
    let _ = std::fs::remove_file(&printed);
    let made = run(chromium()
        .arg(format!("--print-to-pdf={}", printed.display()))
        .arg("--no-pdf-header-footer")
        .arg(format!("file://{}", page.display())));
    let pdf = std::fs::read(&printed).unwrap_or_else(|e| panic!("{e}: {}", stderr(&made)));
    assert!(pdf.starts_with(b"%PDF") && pdf.len() > 10_000);

    // With the bundle delivered before as base: the package changes, down to versions.
    let mut status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    status.push_str(
        "\nPackage: ferry-demo\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0-1\n",
    );
    std::fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
    std::fs::write(
        root.join("usr/lib/python3/dist-packages/Demo_Pkg-1.2.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 1.3\nLicense: MIT\n\n",
    )
    .unwrap();
    let newer = ws.export(
        &manifest_of(&layout_of(&ws, &root, "layout2"), "2"),
        "b2.tar.zst",
    );
    let compared = dom(&report(&ws, &newer, Some(&bundle), "changes.html"), "");
    let change_row = |kind: &str, needle: &str| {
        compared
            .match_indices(&format!("data-package-change=\"{kind}\""))
            .any(|(at, _)| {
                compared[at..at + compared[at..].find("</tr>").unwrap()].contains(needle)
            })
    };
    assert!(
        change_row("added", "ferry-demo"),
        "the Debian package added"
    );
    assert!(
        change_row("changed", "Demo_Pkg"),
        "the Python distribution upgraded"
    );
    assert!(compared.contains(">1.2<") && compared.contains(">1.3<"));
    assert!(compared.contains("What changed since the base"));

    // A delta: its base named, and its images' packages not guessed at.
    let delta = ws.path("delta.tar.zst");
    ok(run(ws
        .export_command(&manifest_of(&layout_of(&ws, &root, "layout2"), "3"), &delta)
        .arg("--base")
        .arg(&newer)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    let of_delta = dom(&report(&ws, &delta, None, "delta.html"), "");
    assert!(text_of(&of_delta, "delta-base").contains("a delta on"));
    assert!(
        of_delta.contains("this delta leaves the image"),
        "says why no packages"
    );
}
