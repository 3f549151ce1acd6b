//! The tamper campaign, with a fixed seed: 1000 random single-byte changes across a signed
//! bundle (an image, a chart, a small file), each refused by `ferry verify`; 20 of them, every
//! 50th of the same sequence over the installable bundle (the file is the registry binary),
//! taken through `ferry install` on the test bed, each refused before any tag is written to
//! the registry. The two halves are two tests, so the thousand verifies run beside the bed tests
//! instead of holding a bed.
//!
//! One exception is checked rather than assumed: zstd's encoding has redundant bits (a match
//! offset inside a run of zeros, say), so a rare change decodes to the very same archive. Such
//! a change alters no byte that anything reads, and verify accepts it; the test then proves with
//! the zstd CLI that the decoded archive is byte-identical to the original's
//! (docs/security.md, "Tamper campaign"). Any other accepted change fails the test.

use std::path::Path;

use crate::support::testbed::{on_host, testbed};
use crate::support::{Workspace, ferry, require_fixtures, run, stderr};

const SEED: u64 = 0x00f3_7272_7961_6c6c;
const FLIPS: usize = 1000;
const THROUGH_INSTALL: usize = 20;

/// xorshift64*: a fixed, dependency-free sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// (position, xor mask): a non-zero mask, so every flip really changes the byte.
fn flips(len: usize) -> Vec<(usize, u8)> {
    let mut rng = Rng(SEED);
    (0..FLIPS)
        .map(|_| {
            let position = usize::try_from(rng.next() % len as u64).unwrap();
            let mask = u8::try_from(rng.next() % 255).unwrap() + 1;
            (position, mask)
        })
        .collect()
}

/// An image, a chart and a file: the registry binary when the bundle is to be installed (the
/// twenty), else a small file, so that the thousand verifies read every kind of entry without
/// hashing 20 MB of one file a thousand times.
fn small_bundle(ws: &Workspace, fixtures: &Path, installable: bool) -> std::path::PathBuf {
    let f = fixtures.display();
    let file = if installable {
        "{name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}".to_owned()
    } else {
        let small = ws.write("small.txt", &"ferry tamper campaign\n".repeat(3000));
        format!("{{name: notes, path: {}}}", small.display())
    };
    let manifest = ws.write(
        "m.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: tamper, version: '1'}}
spec:
  images:
    - {{name: docker.io/library/hello:1.0, from: 'oci-layout:{f}/images/hello:1.0'}}
  charts:
    - path: {f}/charts/other-0.1.0.tgz
  files:
    - {file}
"
        ),
    );
    ws.export(&manifest, "tamper.tar.zst")
}

/// What `ferry verify` made of one flip.
enum Verdict {
    /// Refused with the exit code of a damaged, unsigned, badly signed or untrusted bundle:
    /// a flip inside the signature's key id names another key, which is not trusted here (6).
    Refused,
    /// Accepted, and the archive decodes to the very bytes of the original's.
    DecodesIdentical,
    /// Accepted though something read changed: the failure this campaign looks for.
    Accepted,
}

/// Writes the bundle with one flip to `tampered` and verifies it.
fn verify_flip(
    ws: &Workspace,
    original: &[u8],
    decoded_original: &[u8],
    tampered: &Path,
    (position, mask): (usize, u8),
) -> Verdict {
    let mut bytes = original.to_vec();
    bytes[position] ^= mask;
    std::fs::write(tampered, &bytes).unwrap();
    let output = run(ferry()
        .arg("verify")
        .arg(tampered)
        .arg("--trusted-key")
        .arg(ws.path("k.pub")));
    if output.status.success() {
        if zstd_decode(tampered).as_deref() == Some(decoded_original) {
            Verdict::DecodesIdentical
        } else {
            Verdict::Accepted
        }
    } else {
        assert!(
            matches!(output.status.code(), Some(3..=6)),
            "flip at {position}: exit {:?}: {}",
            output.status.code(),
            stderr(&output)
        );
        Verdict::Refused
    }
}

#[test]
fn a_thousand_random_flips_are_each_refused() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let bundle = small_bundle(&ws, &fixtures, false);
    let original = std::fs::read(&bundle).unwrap();
    let decoded_original = zstd_decode(&bundle).expect("the intact bundle decodes");
    let plan = flips(original.len());
    // Four verifies at a time, each writing its own copy: the campaign is a thousand processes.
    let verdicts: Vec<((usize, u8), Verdict)> = std::thread::scope(|scope| {
        let workers: Vec<_> = plan
            .chunks(FLIPS.div_ceil(4))
            .enumerate()
            .map(|(worker, chunk)| {
                let (ws, original, decoded_original) = (&ws, &original, &decoded_original);
                scope.spawn(move || {
                    let tampered = ws.path(&format!("tampered-{worker}.tar.zst"));
                    chunk
                        .iter()
                        .map(|&flip| {
                            let verdict =
                                verify_flip(ws, original, decoded_original, &tampered, flip);
                            (flip, verdict)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    });
    assert_eq!(verdicts.len(), FLIPS);
    let mut accepted = Vec::new();
    let mut decode_identical = Vec::new();
    let mut refused = 0;
    for ((position, _), verdict) in verdicts {
        match verdict {
            Verdict::Refused => refused += 1,
            Verdict::DecodesIdentical => decode_identical.push(position),
            Verdict::Accepted => accepted.push(position),
        }
    }
    assert!(
        accepted.is_empty(),
        "flips accepted at {accepted:?} of {} bytes",
        original.len()
    );
    println!(
        "{refused} of {FLIPS} flips refused; {} decoded to the identical archive (at {decode_identical:?})",
        decode_identical.len()
    );
}

#[test]
fn twenty_sampled_flips_never_reach_a_tag() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    let Some(bed) = testbed() else { return };
    let ws = Workspace::new();
    let bundle = small_bundle(&ws, &fixtures, true);
    let original = std::fs::read(&bundle).unwrap();
    let tampered = ws.path("tampered.tar.zst");
    let decoded_original = zstd_decode(&bundle).expect("the intact bundle decodes");
    // Every 50th flip of the campaign's sequence that verify refuses (a flip that decodes to
    // the identical archive changes nothing install could read, and is passed over).
    let sample: Vec<(usize, u8)> = flips(original.len())
        .into_iter()
        .step_by(FLIPS / THROUGH_INSTALL)
        .filter(
            |&flip| match verify_flip(&ws, &original, &decoded_original, &tampered, flip) {
                Verdict::Refused => true,
                Verdict::DecodesIdentical => false,
                Verdict::Accepted => panic!("verify accepted the flip at {}", flip.0),
            },
        )
        .collect();
    assert!(
        sample.len() >= THROUGH_INSTALL - 1,
        "only {} sampled flips were refused",
        sample.len()
    );

    bed.reset();
    let h1 = bed.hosts[0].address.clone();
    let inventory = ws.write(
        "inventory.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Inventory
metadata: {{name: tamper}}
spec:
  ssh: {{identityFiles: [{}], knownHosts: {}, agent: false}}
  hosts:
    - {{name: h1, address: {h1}, roles: [registry]}}
  registry: {{host: h1, dnsName: registry.tamper.test, port: 5002, storage: /var/lib/ferry/tamper-registry}}
",
            bed.identity().display(),
            bed.known_hosts().display()
        ),
    );
    on_host(
        &bed,
        &h1,
        "systemctl stop ferry-registry; rm -rf /var/lib/ferry/tamper-registry",
    );
    let since = String::from_utf8(on_host(&bed, &h1, "date +%s").stdout).unwrap();
    for &(position, mask) in &sample {
        let mut bytes = original.clone();
        bytes[position] ^= mask;
        std::fs::write(&tampered, &bytes).unwrap();
        let output = run(ferry()
            .arg("install")
            .arg(&tampered)
            .arg("-i")
            .arg(&inventory)
            .arg("--trusted-key")
            .arg(ws.path("k.pub"))
            .arg("--state-dir")
            .arg(ws.path("state")));
        assert!(
            !output.status.success(),
            "install accepted the flip at {position}"
        );
    }
    let log = String::from_utf8(
        on_host(
            &bed,
            &h1,
            &format!(
                "journalctl -u ferry-registry --since @{} --no-pager -o cat",
                since.trim()
            ),
        )
        .stdout,
    )
    .unwrap();
    let tag_puts: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("\"PUT /v2/")
                && l.contains("/manifests/")
                && !l.contains("/manifests/sha256:")
        })
        .collect();
    assert!(
        tag_puts.is_empty(),
        "tags were written from tampered bundles: {tag_puts:?}"
    );
    // The intact bundle then installs, so the refusals above were about the damage.
    let intact = run(ferry()
        .arg("install")
        .arg(&bundle)
        .arg("-i")
        .arg(&inventory)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))
        .arg("--state-dir")
        .arg(ws.path("state")));
    assert!(intact.status.success(), "{}", stderr(&intact));
    on_host(
        &bed,
        &h1,
        "systemctl stop ferry-registry; rm -rf /var/lib/ferry/tamper-registry",
    );
}

/// The archive a bundle decodes to, by the real zstd CLI (skippable frames are skipped); None
/// when zstd refuses it.
fn zstd_decode(bundle: &Path) -> Option<Vec<u8>> {
    let output = std::process::Command::new("zstd")
        .args(["-d", "-c", "-q"])
        .arg(bundle)
        .output()
        .expect("zstd runs (scripts/install-deps.sh installs it)");
    output.status.success().then_some(output.stdout)
}
