//! `--expires`: the expiry is signed into the index (format v3), shown by inspect, and refused
//! by verify, push and install with its own exit code unless `--allow-expired`.

use crate::support::{ferry, index_of, ok, rewrite_bundle, run, stderr, stdout};

const EXPIRED: u8 = 8;

#[test]
fn an_expiry_is_signed_shown_and_enforced() {
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = crate::support::Workspace::new();
    let manifest = ws.demo_manifest(&fixtures);
    let bundle = ws.path("expiring.tar.zst");
    ok(run(ws.export_command(&manifest, &bundle).args([
        "--expires",
        "30d",
        "--no-sbom",
    ])));
    let index = index_of(&bundle);
    // Without SBOMs (related artifacts, format 5) an expiring bundle needs format 3 only.
    assert_eq!(index.format_version, 3);
    let expires = index.expires_at().expect("an expiry in the index");
    let days = (expires - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "{days} hours");
    ok(ws.verify(&bundle));
    let inspect = ok(run(ferry().args([
        "inspect".as_ref(),
        bundle.as_os_str(),
        "--trusted-key".as_ref(),
        ws.path("k.pub").as_os_str(),
    ])));
    assert!(
        stdout(&inspect).contains(&format!("expires   {}", index.expires.clone().unwrap())),
        "{}",
        stdout(&inspect)
    );

    // Without --expires: format v1 and no field, as before.
    let plain = ws.path("plain.tar.zst");
    ok(run(ws.export_command(&manifest, &plain).arg("--no-sbom")));
    assert_eq!(index_of(&plain).format_version, 1);
    assert_eq!(index_of(&plain).expires, None);

    // The same bundle, validly signed, that expired yesterday.
    let expired = ws.path("expired.tar.zst");
    let yesterday = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    rewrite_bundle(&bundle, &expired, &ws.path("k.key"), |index| {
        index.expires = Some(bundle_format::expiry::format_instant(yesterday));
    });
    let refused = ws.verify(&expired);
    assert_eq!(
        refused.status.code(),
        Some(i32::from(EXPIRED)),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("expired at"),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("--allow-expired"),
        "{}",
        stderr(&refused)
    );
    ok(run(ferry().args([
        "verify".as_ref(),
        expired.as_os_str(),
        "--allow-expired".as_ref(),
        "--trusted-key".as_ref(),
        ws.path("k.pub").as_os_str(),
    ])));
    let inspect = ok(run(ferry().args(["inspect".as_ref(), expired.as_os_str()])));
    assert!(stdout(&inspect).contains("EXPIRED"), "{}", stdout(&inspect));
    // push refuses it before touching the registry.
    let push = run(ferry().args([
        "push".as_ref(),
        expired.as_os_str(),
        "--to".as_ref(),
        "127.0.0.1:9".as_ref(),
        "--trusted-key".as_ref(),
        ws.path("k.pub").as_os_str(),
    ]));
    assert_eq!(
        push.status.code(),
        Some(i32::from(EXPIRED)),
        "{}",
        stderr(&push)
    );

    // A v1 index that carries an expiry is malformed: the version must say it.
    let mislabelled = ws.path("mislabelled.tar.zst");
    let result = std::panic::catch_unwind(|| {
        rewrite_bundle(&bundle, &mislabelled, &ws.path("k.key"), |index| {
            index.format_version = 1;
        })
    });
    assert!(
        result.is_err(),
        "the writer must refuse a v1 index with an expiry"
    );
}

#[test]
fn unusable_expiry_values_are_refused_at_export() {
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = crate::support::Workspace::new();
    let manifest = ws.demo_manifest(&fixtures);
    for bad in ["yesterday", "2020-01-01", "0d", "30"] {
        let bundle = ws.path("never.tar.zst");
        let output = run(ws
            .export_command(&manifest, &bundle)
            .args(["--expires", bad]));
        assert_eq!(output.status.code(), Some(1), "{bad}: {}", stderr(&output));
        assert!(stderr(&output).contains("--expires"), "{}", stderr(&output));
        assert!(!bundle.exists());
    }
}
