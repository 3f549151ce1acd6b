//! The page: the report's values laid out as sections a reviewer reads top to bottom (summary,
//! the bundle, what changed, images, packages in images with a filter box, OS packages, charts,
//! files), readable at 1366 pixels and on paper, with its script allowed by hash alone.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::html::{Element, Node, el, text};
use crate::model::{ArtifactChange, Changes, ImageFacts, Report};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// `1.5 MiB`; the exact count goes in a title.
fn bytes(n: u64) -> Element {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let shown = if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    };
    el("span")
        .attr("title", format!("{n} bytes"))
        .attr("data-bytes", n.to_string())
        .text(shown)
}

/// A digest shortened for reading, whole in its title.
fn digest(value: &str) -> Element {
    let short = match value.split_once(':') {
        Some((algorithm, hex)) if hex.len() > 16 => format!("{algorithm}:{}…", &hex[..16]),
        _ => value.to_owned(),
    };
    el("code").attr("title", value).text(short)
}

fn th(label: &str) -> Element {
    el("th").text(label)
}

fn td(value: impl Into<String>) -> Element {
    el("td").text(value)
}

fn table(headers: &[&str], rows: Vec<Element>) -> Element {
    el("table")
        .child(el("thead").child(el("tr").children(headers.iter().map(|h| {
            if h.ends_with(' ') {
                th(h.trim_end()).class("num")
            } else {
                th(h)
            }
        }))))
        .child(el("tbody").children(rows))
}

fn section(id: &'static str, title: &str) -> Element {
    el("section").attr("id", id).child(el("h2").text(title))
}

fn card(id: &'static str, number: impl Into<Node>, label: &str) -> Element {
    el("div")
        .class("card")
        .child(el("span").class("number").attr("id", id).child(number))
        .child(el("span").class("label").text(label))
}

fn summary(report: &Report) -> Element {
    let platforms: usize = report.images.iter().map(|i| i.contents.len()).sum();
    let packages: usize = report
        .images
        .iter()
        .flat_map(|i| &i.contents)
        .map(|c| c.packages.len())
        .sum();
    el("section").attr("id", "summary").child(
        el("div")
            .class("cards")
            .child(card(
                "count-images",
                text(report.images.len().to_string()),
                "images",
            ))
            .child(card(
                "count-platforms",
                text(platforms.to_string()),
                "platform manifests",
            ))
            .child(card(
                "count-packages",
                text(packages.to_string()),
                "packages in images",
            ))
            .child(card(
                "count-os-packages",
                text(report.os_packages.len().to_string()),
                "OS packages",
            ))
            .child(card(
                "count-charts",
                text(report.charts.len().to_string()),
                "charts",
            ))
            .child(card(
                "count-files",
                text(report.files.len().to_string()),
                "files",
            ))
            .child(card(
                "bundle-size",
                bytes(report.bundle.size),
                "bundle size",
            )),
    )
}

fn bundle_facts(report: &Report) -> Element {
    let b = &report.bundle;
    let fact = |label: &str, value: Node| [el("dt").text(label), el("dd").child(value)];
    let signature_class = if b.signature.starts_with("signed by") && !b.signature.contains("NOT") {
        "good"
    } else {
        "bad"
    };
    let mut facts: Vec<Element> = Vec::new();
    facts.extend(fact("name", text(&b.name)));
    facts.extend(fact("version", text(&b.version)));
    facts.extend(fact(
        "bundle id",
        el("code").attr("id", "bundle-id").text(&b.id).into(),
    ));
    facts.extend(fact(
        "signature",
        el("span")
            .class(signature_class)
            .attr("id", "signature")
            .text(&b.signature)
            .into(),
    ));
    facts.extend(fact(
        "expires",
        text(b.expires.clone().unwrap_or_else(|| "never".to_owned())),
    ));
    facts.extend(fact(
        "size",
        el("span")
            .child(bytes(b.size))
            .text(format!(", {} blobs holding ", b.blobs))
            .child(bytes(b.blob_bytes))
            .into(),
    ));
    facts.extend(fact(
        "format",
        text(format!("version {}", b.format_version)),
    ));
    let delta = match &b.delta {
        Some(d) => el("span")
            .attr("id", "delta-base")
            .text(format!("a delta on {} (", d.base))
            .child(digest(&d.base_id))
            .text(format!("): {} blobs, ", d.assumed_blobs))
            .child(bytes(d.assumed_bytes))
            .text(" left to the base")
            .into(),
        None => text("none: a full bundle"),
    };
    facts.extend(fact("delta base", delta));
    if b.carried_trust_roots > 0 {
        facts.extend(fact(
            "trust roots carried",
            text(b.carried_trust_roots.to_string()),
        ));
    }
    section("bundle", "The bundle").child(el("dl").class("facts").children(facts))
}

fn change_rows(class: &'static str, list: &[ArtifactChange]) -> Vec<Element> {
    list.iter()
        .map(|c| {
            el("tr")
                .class(class)
                .child(td(class))
                .child(td(&c.kind))
                .child(el("td").class("mono").text(&c.name))
                .child(
                    el("td")
                        .class("mono")
                        .text(c.old.clone().unwrap_or_default()),
                )
                .child(
                    el("td")
                        .class("mono")
                        .text(c.new.clone().unwrap_or_default()),
                )
        })
        .collect()
}

fn changes(changes: &Changes) -> Element {
    let mut rows = change_rows("added", &changes.added);
    rows.extend(change_rows("removed", &changes.removed));
    rows.extend(change_rows("changed", &changes.changed));
    let mut out = section("changes", "What changed since the base").child(
        el("p")
            .class("note")
            .text(format!(
                "Compared with {} {}: {} added, {} removed, {} changed; ",
                changes.base,
                changes.base_version,
                changes.added.len(),
                changes.removed.len(),
                changes.changed.len()
            ))
            .text(format!("{} new blobs (", changes.new_blobs))
            .child(bytes(changes.new_blob_bytes))
            .text(") the base does not hold."),
    );
    if !rows.is_empty() {
        out = out.child(table(&["change", "kind", "name", "before", "after"], rows));
    }
    out = out.child(el("h3").text("Packages in images"));
    match &changes.packages {
        Err(why) => out.child(el("p").class("note").text(format!("Not compared: {why}"))),
        Ok(images) if images.is_empty() => {
            out.child(el("p").class("note").text("No package changed."))
        }
        Ok(images) => {
            let mut rows = Vec::new();
            for image in images {
                let note = if image.added {
                    " (new image)"
                } else if image.removed {
                    " (image removed)"
                } else {
                    ""
                };
                for change in &image.changes {
                    let class = match (&change.old, &change.new) {
                        (None, Some(_)) => "added",
                        (Some(_), None) => "removed",
                        _ => "changed",
                    };
                    rows.push(
                        el("tr")
                            .class(class)
                            .attr("data-package-change", class)
                            .child(
                                el("td")
                                    .class("mono")
                                    .text(format!("{} {}{note}", image.reference, image.platform)),
                            )
                            .child(td(&change.ecosystem))
                            .child(td(&change.name))
                            .child(td(change.old.clone().unwrap_or_default()))
                            .child(td(change.new.clone().unwrap_or_default())),
                    );
                }
            }
            out.child(table(
                &["image", "type", "package", "before", "after"],
                rows,
            ))
        }
    }
}

fn images(report: &Report) -> Element {
    let rows = report.images.iter().map(|image| {
        let attachments: Vec<Element> = image
            .attachments
            .iter()
            .map(|a| {
                el("li").text(format!(
                    "{} ({}) on {}: {}",
                    a.kind, a.delivery, a.on, a.summary
                ))
            })
            .collect();
        el("tr")
            .attr("data-image", &image.reference)
            .child(
                el("td")
                    .child(el("div").class("mono").text(&image.reference))
                    .child(digest(&image.digest)),
            )
            .child(td(image.platforms.join(", ")))
            .child(el("td").class("num").child(bytes(image.size)))
            .child(
                el("td")
                    .class("num")
                    .text(format!("{} (", image.shared_layers))
                    .child(bytes(image.shared_bytes))
                    .text(")"),
            )
            .child(if attachments.is_empty() {
                td("none")
            } else {
                el("td").child(el("ul").class("plain").children(attachments))
            })
    });
    section("images", "Images").child(table(
        &[
            "image",
            "platforms",
            "size ",
            "shared layers ",
            "signatures, attestations, SBOMs",
        ],
        rows.collect(),
    ))
}

fn package_tables(image: &ImageFacts, number: usize) -> Vec<Element> {
    let mut out = Vec::new();
    for (index, contents) in image.contents.iter().enumerate() {
        let os = contents.os.as_ref().map_or_else(
            || "no os-release".to_owned(),
            |os| {
                if os.pretty_name.is_empty() {
                    format!("{} {}", os.id, os.version_id)
                } else {
                    os.pretty_name.clone()
                }
            },
        );
        let count_id = format!("shown-{number}-{index}");
        let heading = el("h3")
            .text(format!(
                "{} {} — {os}, ",
                image.reference, contents.platform
            ))
            .child(
                el("span")
                    .attr("id", count_id.clone())
                    .text(contents.packages.len().to_string()),
            )
            .text(format!(" of {} packages", contents.packages.len()));
        out.push(heading);
        if let Some(why) = &contents.unavailable {
            out.push(el("p").class("note").text(why));
            continue;
        }
        if contents.packages.is_empty() {
            out.push(
                el("p")
                    .class("note")
                    .text("No package database in its layers (dpkg, apk, RPM, Python, Go)."),
            );
            continue;
        }
        let rows = contents.packages.iter().map(|p| {
            let licences = p.licenses.join(", ");
            let search = format!(
                "{} {} {} {} {}",
                p.ecosystem.as_str(),
                p.name,
                p.version,
                licences,
                p.purl
            )
            .to_lowercase();
            el("tr")
                .class("pkg")
                .attr("data-search", search)
                .child(td(p.ecosystem.as_str()))
                .child(td(&p.name))
                .child(td(&p.version))
                .child(td(licences))
                .child(el("td").class("mono").text(&p.purl))
        });
        out.push(
            table(
                &["type", "name", "version", "licence", "package URL"],
                rows.collect(),
            )
            .class("packages")
            .attr("data-image", &image.reference)
            .attr("data-platform", &contents.platform)
            .attr("data-total", contents.packages.len().to_string())
            .attr("data-count-id", count_id),
        );
    }
    out
}

fn packages(report: &Report) -> Element {
    let total: usize = report
        .images
        .iter()
        .flat_map(|i| &i.contents)
        .map(|c| c.packages.len())
        .sum();
    let filter = el("div")
        .class("filter")
        .attr("id", "filter-bar")
        .attr("hidden", "")
        .child(
            el("input")
                .attr("id", "filter")
                .attr("type", "search")
                .attr("placeholder", "filter: name, version, licence, purl")
                .attr("aria-label", "filter packages"),
        )
        .child(
            el("span")
                .child(el("span").attr("id", "shown").text(total.to_string()))
                .text(format!(" of {total} packages shown")),
        );
    let mut out = section("packages", "Packages in images").child(filter);
    for (number, image) in report.images.iter().enumerate() {
        out = out.children(package_tables(image, number));
    }
    out
}

fn os_packages(report: &Report) -> Element {
    let rows = report.os_packages.iter().map(|p| {
        el("tr")
            .child(td(&p.name))
            .child(td(&p.version))
            .child(td(&p.architecture))
            .child(el("td").class("num").child(bytes(p.size)))
            .child(el("td").class("mono").text(&p.source))
    });
    let out = section("os-packages", "OS packages for the nodes");
    if report.os_packages.is_empty() {
        return out.child(el("p").class("note").text("None."));
    }
    out.child(table(
        &["package", "version", "architecture", "size ", "from"],
        rows.collect(),
    ))
}

fn charts(report: &Report) -> Element {
    let rows = report.charts.iter().map(|c| {
        let images: Vec<Element> = c
            .images
            .iter()
            .map(|(reference, carried)| {
                let item = el("li").child(el("span").class("mono").text(reference));
                if *carried {
                    item.child(el("span").class("good").text(" carried"))
                } else {
                    item.child(el("span").class("bad").text(" NOT in this bundle"))
                }
            })
            .collect();
        let dependencies: Vec<Element> = c
            .dependencies
            .iter()
            .map(|(name, version)| el("li").text(format!("{name} {version}")))
            .collect();
        el("tr")
            .child(td(&c.name))
            .child(td(&c.version))
            .child(if images.is_empty() {
                td("none in its default values")
            } else {
                el("td").child(el("ul").class("plain").children(images))
            })
            .child(if dependencies.is_empty() {
                td("none")
            } else {
                el("td").child(el("ul").class("plain").children(dependencies))
            })
            .child(td(c.signed_by.clone().map_or_else(
                || "not signed".to_owned(),
                |key| format!("provenance verified, key {key}"),
            )))
            .child(el("td").class("mono").text(&c.source))
    });
    let out = section("charts", "Charts");
    if report.charts.is_empty() {
        return out.child(el("p").class("note").text("None."));
    }
    out.child(table(
        &[
            "chart",
            "version",
            "images it uses",
            "dependencies",
            "provenance",
            "from",
        ],
        rows.collect(),
    ))
}

fn files(report: &Report) -> Element {
    let rows = report.files.iter().map(|f| {
        el("tr")
            .child(el("td").class("mono").text(&f.name))
            .child(el("td").class("num").child(bytes(f.size)))
            .child(td(f.platform.clone().unwrap_or_else(|| "any".to_owned())))
            .child(td(f.role.clone().unwrap_or_default()))
            .child(el("td").class("mono").text(&f.mode))
            .child(el("td").child(digest(&f.sha256)))
            .child(el("td").class("mono").text(&f.source))
    });
    let out = section("files", "Files");
    if report.files.is_empty() {
        return out.child(el("p").class("note").text("None."));
    }
    out.child(table(
        &[
            "file", "size ", "platform", "role", "mode", "sha256", "from",
        ],
        rows.collect(),
    ))
}

/// The script's CSP source: only this exact script may run.
fn script_hash() -> String {
    let hash = Sha256::digest(SCRIPT.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The whole page.
pub fn render(report: &Report, tool: &str) -> String {
    let b = &report.bundle;
    let title = format!("{} {}: bundle report", b.name, b.version);
    let policy = format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {}",
        script_hash()
    );
    let head = el("head")
        .child(el("meta").attr("charset", "utf-8"))
        .child(
            el("meta")
                .attr("http-equiv", "Content-Security-Policy")
                .attr("content", policy),
        )
        .child(
            el("meta")
                .attr("name", "viewport")
                .attr("content", "width=device-width, initial-scale=1"),
        )
        .child(el("title").text(&title))
        .child(el("style").child(Node::Static(STYLE)));
    let mut main = el("main")
        .child(
            el("header")
                .child(el("h1").text(&title))
                .child(el("div").class("sub").text(format!(
                    "What this bundle holds{}, for review before it crosses. Made by {tool}.",
                    if report.changes.is_some() {
                        " and what changed since its base"
                    } else {
                        ""
                    }
                ))),
        )
        .child(summary(report))
        .child(bundle_facts(report));
    if let Some(found) = &report.changes {
        main = main.child(changes(found));
    }
    main = main
        .child(images(report))
        .child(packages(report))
        .child(os_packages(report))
        .child(charts(report))
        .child(files(report))
        .child(el("footer").text(format!(
            "Bundle {} · {tool} · every number here was read from the bundle itself.",
            b.id
        )));
    let body = el("body")
        .child(main)
        .child(el("script").child(Node::Static(SCRIPT)));
    let mut out = String::from("<!DOCTYPE html>\n");
    Node::from(el("html").attr("lang", "en").child(head).child(body)).write(&mut out);
    out.push('\n');
    out
}
