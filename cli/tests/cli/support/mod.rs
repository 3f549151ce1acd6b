//! Shared test support: the ferry binary, fixtures, keys, and a real distribution registry.
//! Tests that need the test bed skip with a printed reason when it is missing, except under
//! CI=true, where they fail instead.

pub mod harbor;
pub mod served;
pub mod signing_tools;
pub mod testbed;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The ferry binary under test: `FERRY_BIN` when set (scripts/test.sh runs the suite against
/// the portable release it built), else the one cargo built beside these tests.
pub fn ferry_binary() -> std::path::PathBuf {
    std::env::var_os("FERRY_BIN")
        .filter(|path| !path.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_ferry").into())
}

pub fn ferry() -> Command {
    let mut command = Command::new(ferry_binary());
    // never pick up a developer's own trusted keys
    command.env("FERRY_TRUSTED_KEYS_DIR", "/nonexistent-ferry-test-keys");
    command.env_remove("FERRY_KEY_PASSWORD");
    command.stdin(Stdio::null());
    command
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("the command runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
pub fn ok(output: Output) -> Output {
    assert!(
        output.status.success(),
        "command failed: {}\n{}",
        stderr(&output),
        stdout(&output)
    );
    output
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skip (or, under CI=true, fail) when something the test needs is missing.
#[track_caller]
pub fn require(condition: bool, what: &str) -> bool {
    if condition {
        return true;
    }
    if in_ci() {
        panic!("CI=true and the test bed is incomplete: {what}; run scripts/test.sh");
    }
    eprintln!("SKIPPED: {what}; run scripts/test.sh to set up the test bed");
    false
}

pub fn have_tool(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[track_caller]
pub fn require_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have_tool(t)).collect();
    require(
        missing.is_empty(),
        &format!("missing tools: {}", missing.join(", ")),
    )
}

pub fn fixtures() -> PathBuf {
    std::env::var_os("FERRY_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fixtures"))
}

#[track_caller]
pub fn require_fixtures() -> Option<PathBuf> {
    let dir = fixtures();
    require(
        dir.join(".stamp").exists(),
        &format!("fixtures not built in {}", dir.display()),
    )
    .then_some(dir)
}

/// A temp dir with an unencrypted key pair `k.key`/`k.pub`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        ok(run(ferry().current_dir(dir.path()).args([
            "key",
            "generate",
            "-o",
            "k",
            "--unencrypted",
        ])));
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A manifest over the fixtures, written into the workspace.
    pub fn demo_manifest(&self, fixtures: &Path) -> PathBuf {
        let f = fixtures.display();
        self.write(
            "manifest.yaml",
            &format!(
                "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: test, version: 1.0.0}}
spec:
  platforms: [linux/amd64, linux/arm64]
  images:
    - name: docker.io/library/hello:1.0
      from: oci-layout:{f}/images/hello
      platforms: [linux/amd64]
    - name: docker.io/example/multiarch:1.0
      from: oci-layout:{f}/images/multiarch
    - name: registry.example.com/apps/app1:1.0
      from: oci-layout:{f}/images/shared:app1
      platforms: [linux/amd64]
    - name: registry.example.com/apps/app2:1.0
      from: oci-layout:{f}/images/shared:app2
      platforms: [linux/amd64]
  charts:
    - path: {f}/charts/demo
    - path: {f}/charts/other-0.1.0.tgz
  files:
    - {{name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}}
"
            ),
        )
    }

    /// `ferry export -m manifest -o bundle --key k.key`, not yet run.
    pub fn export_command(&self, manifest: &Path, bundle: &Path) -> Command {
        let mut command = ferry();
        command.current_dir(self.dir.path()).args([
            "export".as_ref(),
            "-m".as_ref(),
            manifest.as_os_str(),
            "-o".as_ref(),
            bundle.as_os_str(),
            "--key".as_ref(),
            self.path("k.key").as_os_str(),
        ]);
        command
    }

    /// Export `manifest` signed with k.key into `name`.
    pub fn export(&self, manifest: &Path, name: &str) -> PathBuf {
        let bundle = self.path(name);
        ok(run(&mut self.export_command(manifest, &bundle)));
        bundle
    }

    pub fn verify(&self, bundle: &Path) -> Output {
        run(ferry().args([
            "verify".as_ref(),
            bundle.as_os_str(),
            "--trusted-key".as_ref(),
            self.path("k.pub").as_os_str(),
        ]))
    }
}

/// A workspace with the demo manifest over the fixtures exported into `b.tar.zst`, or None
/// (skipped) when the fixtures are missing.
#[track_caller]
pub fn demo_bundle() -> Option<(Workspace, PathBuf)> {
    let fixtures = require_fixtures()?;
    let ws = Workspace::new();
    let bundle = ws.export(&ws.demo_manifest(&fixtures), "b.tar.zst");
    Some((ws, bundle))
}

/// `ferry split BUNDLE` into `ws/parts` (`part_size` parts, `repair` percent of repair), with the
/// second data part then lost: a parts directory that needs its repair parts.
pub fn split_losing_a_part(
    ws: &Workspace,
    bundle: &Path,
    part_size: &str,
    repair: &str,
) -> PathBuf {
    let parts = ws.path("parts");
    ok(run(ferry()
        .arg("split")
        .arg(bundle)
        .arg("-o")
        .arg(&parts)
        .args(["--part-size", part_size, "--repair", repair, "--key"])
        .arg(ws.path("k.key"))));
    let lost = std::fs::read_dir(&parts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".2-of-"))
        .unwrap();
    std::fs::remove_file(lost).unwrap();
    parts
}

/// A bundle's index, read without checking its signature (tests check digests themselves).
pub fn index_of(bundle: &Path) -> bundle_format::BundleIndex {
    let file = std::fs::File::open(bundle).unwrap();
    let policy = bundle_format::SignaturePolicy::Report(bundle_format::signing::Trust::none());
    bundle_format::random_access::BundleFile::open(file, &policy)
        .unwrap()
        .index()
        .clone()
}

/// `good` written again into `out` with its index changed by `edit` and signed by the secret
/// key `key` (unencrypted): a validly signed bundle whose index says what a test needs.
pub fn rewrite_bundle(
    good: &Path,
    out: &Path,
    key: &Path,
    edit: impl FnOnce(&mut bundle_format::BundleIndex),
) {
    let file = std::fs::File::open(good).unwrap();
    let policy = bundle_format::SignaturePolicy::Report(bundle_format::signing::Trust::none());
    let source = bundle_format::random_access::BundleFile::open(file, &policy).unwrap();
    let mut index = source.index().clone();
    edit(&mut index);
    let signer =
        bundle_format::SigningKey::open(&std::fs::read_to_string(key).unwrap(), None, "test")
            .unwrap();
    let mut writer = bundle_format::BundleWriter::new(
        std::fs::File::create(out).unwrap(),
        index.clone(),
        Some(&signer),
        bundle_format::WriterOptions::default(),
    )
    .unwrap();
    for blob in &index.blobs {
        writer
            .add_blob(&blob.digest, &mut source.open_blob(&blob.digest).unwrap())
            .unwrap();
    }
    writer.finish().unwrap();
}

/// `into` written to `out` with its signature frame taken from `from`: a bundle whose index
/// signature is a well-formed signature by a trusted key that does not verify (an altered index).
pub fn splice_signature(from: &Path, into: &Path, out: &Path) {
    let signature_frame = |bundle: &Path| {
        let table = offset_table(bundle);
        let entry = table
            .entries
            .iter()
            .find(|e| e.name == bundle_format::layout::SIGNATURE_ENTRY)
            .unwrap()
            .clone();
        let bytes = std::fs::read(bundle).unwrap();
        let span = entry.frame;
        (
            entry,
            bytes[span.offset as usize..(span.offset + span.length) as usize].to_vec(),
        )
    };
    let (from_entry, from_frame) = signature_frame(from);
    let bytes = std::fs::read(into).unwrap();
    let frame_of = |span: bundle_format::offset_table::Span| {
        bytes[span.offset as usize..(span.offset + span.length) as usize].to_vec()
    };
    let mut table = offset_table(into);
    let mut written = Vec::new();
    for entry in &mut table.entries {
        let frame = if entry.name == from_entry.name {
            entry.size = from_entry.size;
            from_frame.clone()
        } else {
            frame_of(entry.frame)
        };
        entry.frame.offset = written.len() as u64;
        entry.frame.length = frame.len() as u64;
        written.extend_from_slice(&frame);
    }
    let end = frame_of(table.end_of_archive);
    table.end_of_archive.offset = written.len() as u64;
    written.extend_from_slice(&end);
    written.extend_from_slice(&table.encode());
    std::fs::write(out, written).unwrap();
}

/// The bundle's offset table: where each entry's frame lies.
pub fn offset_table(bundle: &Path) -> bundle_format::offset_table::OffsetTable {
    let file = std::fs::File::open(bundle).unwrap();
    let policy = bundle_format::SignaturePolicy::Report(bundle_format::signing::Trust::none());
    bundle_format::random_access::BundleFile::open(file, &policy)
        .unwrap()
        .table()
        .clone()
}

/// A throwaway distribution registry on a free loopback port, run by testdata/registry.sh (the
/// same script shell benchmarks use). Stopped by its PID on drop.
pub struct Registry {
    pub address: String,
    dir: tempfile::TempDir,
}

fn registry_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/registry.sh")
}

impl Registry {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// With `--tls` (a generated CA at `ca_path()`) and/or `--user NAME:PASSWORD`.
    pub fn start_with(options: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let output = ok(run(Command::new("bash")
            .arg(registry_script())
            .arg("start")
            .arg(dir.path())
            .arg(port.to_string())
            .args(options)));
        let address = stdout(&output).trim().to_owned();
        assert_eq!(address, format!("127.0.0.1:{port}"));
        Self { address, dir }
    }

    /// Where the registry stores a blob's bytes (distribution's filesystem driver layout).
    pub fn blob_data_path(&self, digest_hex: &str) -> PathBuf {
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&digest_hex[..2])
            .join(digest_hex)
            .join("data")
    }

    /// The throwaway CA of a `--tls` registry.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The registry's access log so far (combined log format, one request a line).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Blob downloads served so far.
    pub fn blob_gets(&self) -> usize {
        self.access_log()
            .lines()
            .filter(|l| {
                l.contains("\"GET /v2/") && l.contains("/blobs/sha256:") && l.contains("\" 200 ")
            })
            .count()
    }

    /// Copy an OCI layout entry into this registry with skopeo (all platforms, digests kept).
    pub fn seed(&self, source: &str, repository: &str) {
        self.seed_as(source, repository, None);
    }

    /// Seed a registry that wants credentials (`user:password`).
    pub fn seed_as(&self, source: &str, repository: &str, creds: Option<&str>) {
        let mut command = Command::new("skopeo");
        command.args([
            "copy",
            "-q",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
        ]);
        if let Some(creds) = creds {
            command.arg("--dest-creds").arg(creds);
        }
        ok(run(command
            .arg(source)
            .arg(format!("docker://{}/{repository}", self.address))));
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(registry_script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// `python3 -m http.server` serving a directory on a free loopback port; its request log is
/// kept. Killed by its PID on drop.
pub struct HttpServer {
    child: std::process::Child,
    pub base_url: String,
    log: PathBuf,
    _logdir: tempfile::TempDir,
}

impl HttpServer {
    pub fn serve(dir: &Path) -> Self {
        let logdir = tempfile::tempdir().unwrap();
        let log = logdir.path().join("http.log");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3 http.server starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "http.server did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
            _logdir: logdir,
        }
    }

    /// GET requests served for `path` so far.
    pub fn gets(&self, path: &str) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains(&format!("\"GET {path} ")))
            .count()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tar entry (header, data, padding) packed into a zstd frame as ferry's writer packs it:
/// the signature entry stored, anything else compressed at level 3.
pub fn pack_entry(content: &[u8]) -> Vec<u8> {
    let header = tar::Header::from_byte_slice(&content[..512]);
    let name = String::from_utf8_lossy(&header.path_bytes()).into_owned();
    if name != "ferry-index.json.minisig" {
        return zstd::encode_all(content, 3).unwrap();
    }
    let size = header.entry_size().unwrap();
    let data = &content[512..512 + size as usize];
    let mut out = bundle_format::digest::CountingWriter::new(Vec::new());
    bundle_format::frame::write_entry(
        &mut out,
        &name,
        size,
        &mut &data[..],
        bundle_format::frame::Packing::Stored,
        &mut bundle_format::Hasher::default(),
    )
    .unwrap();
    out.into_inner()
}

/// A tag per image, chart and file, and per subject of referrers the referrers tag schema's
/// index (the distribution registry has no referrers API): ferry's SBOMs, on each platform
/// manifest.
pub fn tags_expected(index: &bundle_format::BundleIndex) -> usize {
    let subjects: std::collections::BTreeSet<_> = index
        .images
        .iter()
        .flat_map(|image| &image.related)
        .filter(|related| related.tag.is_none())
        .map(|related| related.subject)
        .collect();
    assert!(!subjects.is_empty(), "the images carry SBOMs");
    index.images.len() + index.charts.len() + index.files.len() + subjects.len()
}
