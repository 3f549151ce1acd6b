//! Command-line definition. Business logic lives in the library crates.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `ferry --help`: the commands as the journey goes, grouped by where they run. The groups are
/// written here; a test checks that every command is in exactly one of them.
const HELP_TEMPLATE: &str = "\
{before-help}{about-with-newline}
{usage-heading} {usage}

On the workstation (with internet):
  export       Export the artifacts of a manifest into one signed bundle
  verify       Verify a bundle's signatures and every digest, streaming
  inspect      Show a bundle's artifacts, sizes, platforms, signers and what images carry
  diff         What changed between two bundles, and the new blob bytes
  sbom         Each image's OS and packages, as SPDX 2.3 and CycloneDX 1.5 JSON
  report       One HTML page a reviewer reads before the bundle crosses
  sign         Add a signature (a second person's) to a bundle, parts or a snapshot
  trust        Trust roots: who signs, how many must, and who may replace the list
  key          Generate signing keys

Across the one-way link:
  split        Cut a bundle into signed parts plus repair parts
  join         Join parts in any order, rebuilding lost ones, then verify
  parts        `parts status DIR`: every part valid, missing or corrupt, and what is needed

On the far side:
  preflight    Check every host for what would break the install, read-only
  install      Install onto the hosts of an inventory over SSH: registry, push, nodes, k3s, charts
  push         Push into an existing OCI registry: only what it lacks, tags last
  serve        Serve a bundle or parts directory as a read-only registry, in place
  self         `self install BUNDLE`: replace this ferry with the bundle's, verified

Day 2:
  status       What is installed and configured on every host, read-only
  history      Every delivery the far side accepted, with its outcome
  snapshot     A signed snapshot of a registry's blobs: the base of the next delta
  prune        Delete what the last N bundles do not reference, then collect garbage
  node         `node remove NAME…`: cordon, drain, delete and clean nodes
  state        Hand an installation's state to another operator, encrypted

Tools:
  schema       Print the JSON Schema of an input file format
  completions  Print shell completions
  man          Write man pages
  help         Print this message or the help of the given command

Options:
{options}{after-help}";

#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "Air-gapped artifact bundler and installer",
    long_about = "ferry exports container images, Helm charts, files and OS packages into one signed, \
                  content-addressed bundle, carries it across a one-way link, and installs it \
                  into a private cloud.",
    help_template = HELP_TEMPLATE,
    after_help = "Exit codes: 0 ok, 1 error, 2 usage, 3 corrupt bundle, 4 bad signature, \
                  5 unsigned bundle, 6 signer not trusted, 7 older bundle than installed \
                  (rollback refused), 8 expired bundle or trust root, 9 state directory does not \
                  match the installation, 10 signed by fewer trusted keys than the trust root's \
                  threshold, 11 another operator's run holds the lock, 12 a preflight check failed."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Export the artifacts of a manifest into a signed bundle.
    Export(ExportArgs),
    /// Verify a bundle's signature and every digest, streaming.
    Verify(VerifyArgs),
    /// Show a bundle's artifacts, sizes, platforms and signer.
    Inspect(InspectArgs),
    /// Add a signature (a second person's approval, or a new key's) to a bundle, to a parts
    /// directory's manifest, or to a registry snapshot, without rewriting anything else.
    Sign(SignArgs),
    /// List artifacts added, removed and changed between two bundles, and the new blob bytes.
    Diff(DiffArgs),
    /// The software bill of materials of every image in a bundle: its OS and packages (Debian,
    /// Alpine, Python) with versions, licences and package URLs, as SPDX 2.3 and CycloneDX 1.5.
    Sbom(SbomArgs),
    /// One self-contained HTML page for a reviewer: the bundle, its signers and expiry, images
    /// with their platforms, sizes, shared layers and attachments, packages per image (with a
    /// filter box), OS packages, charts with the images they use, files; with --base, what
    /// changed, down to package versions.
    Report(ReportArgs),
    /// Split a bundle into verified parts plus Reed-Solomon repair parts, for a one-way link.
    Split(SplitArgs),
    /// Join parts (any order, duplicates and strays welcome) back into the bundle, rebuilding
    /// lost parts from repair parts, then verify it.
    Join(JoinArgs),
    /// Work with a parts directory: `ferry parts status DIR` shows every part as valid, missing
    /// or corrupt, and exactly what is still needed.
    #[command(subcommand)]
    Parts(PartsCommand),
    /// Show what is installed and configured on every host of an inventory (-i), over SSH,
    /// read-only.
    Status(StatusArgs),
    /// Push a bundle (or its parts directory) into an existing OCI registry: only missing blobs,
    /// streamed and verified, manifests after their blobs, tags last.
    Push(PushArgs),
    /// Write a signed snapshot of the blobs a registry holds, to serve as `export --base`.
    Snapshot(SnapshotArgs),
    /// Old name of `ferry snapshot`.
    #[command(hide = true)]
    Inventory(SnapshotArgs),
    /// Check every host of an inventory for what would break this install (disk space and
    /// inodes, clock, kernel modules, sysctls, ports, names, machine ids, cgroups, SELinux,
    /// firewalld), read-only; install runs the same checks first.
    Preflight(PreflightArgs),
    /// Install a bundle onto the hosts of an inventory over SSH: registry, push, (nodes).
    Install(InstallArgs),
    /// Every delivery the far side accepted (install, push, rollbacks), from the ledger on the
    /// registry host, else from this machine's copy.
    History(HistoryArgs),
    /// Serve a bundle or parts directory as a read-only OCI registry, in place: verified,
    /// streamed, nothing extracted (docs/cli.md, "serve").
    Serve(ServeArgs),
    /// ferry itself: `ferry self install BUNDLE` replaces this ferry with the one the bundle
    /// carries (`export --include-self`), verified.
    #[command(name = "self", subcommand)]
    Myself(SelfCommand),
    /// Delete from the registry everything the last N installed bundles do not reference, then
    /// reclaim the blobs with the registry's own garbage collection.
    Prune(PruneArgs),
    /// Day-2 node changes: `ferry node remove NAME… -i INVENTORY` cordons, drains and deletes
    /// nodes, then removes k3s and ferry's registry trust from their hosts.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Hand an installation's state (CA, passwords, k3s token, record) to another operator:
    /// `ferry state export` writes it encrypted with a passphrase, `ferry state import` reads it.
    #[command(subcommand)]
    State(StateCommand),
    /// Print the JSON Schema of an input file format, for editors and CI validation.
    Schema {
        #[arg(value_enum)]
        kind: SchemaKind,
    },
    /// Manage signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Trust roots: who signs bundles and how many must (a two-person rule), and who may
    /// replace the list (`init`, `add-key`, `remove-key`, `threshold`, `expires`, `sign`,
    /// `show`). The far side pins one with --trust-root; newer ones travel in bundles.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages into a directory.
    Man {
        #[arg(short, long, default_value = ".")]
        out_dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A bundle, or a parts directory (lost parts rebuilt from repair parts as verify does).
    pub bundle: PathBuf,
    /// Where to listen; any address but loopback needs --tls-cert and --tls-key, or
    /// --insecure-http. Port 0 picks a free port (printed).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:5000")]
    pub listen: std::net::SocketAddr,
    /// The server's PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key (with --tls-cert).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on an address other than loopback.
    #[arg(long)]
    pub insecure_http: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub accept: AcceptArgs,
}

#[derive(Debug, Subcommand)]
pub enum SelfCommand {
    /// Install the ferry binary a bundle carries (role `ferry`, this machine's platform):
    /// signature, expiry and digest checked, written new and renamed over the target; an older
    /// ferry is refused unless --allow-downgrade.
    Install(SelfInstallArgs),
}

#[derive(Debug, Args)]
pub struct SelfInstallArgs {
    /// A bundle, or a parts directory.
    pub bundle: PathBuf,
    /// Where to install it; default: this ferry's own path.
    #[arg(long, value_name = "FILE")]
    pub to: Option<PathBuf>,
    /// Install a ferry older than this one.
    #[arg(long)]
    pub allow_downgrade: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub accept: AcceptArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep what the last N installed bundles reference (from the history).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub keep: u32,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub plan: bool,
    /// The registry install pushed into with --registry-url: only manifests ferry delivered are
    /// deleted, and blob reclamation is left to its owner.
    #[arg(long, value_name = "HOST:PORT")]
    pub registry_url: Option<String>,
    /// --registry-url's kind and layout, as install was given them.
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub far_side: FarSideArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Take nodes out of the cluster and clean their hosts (docs/k3s.md, "Removing a node").
    Remove(NodeRemoveArgs),
}

#[derive(Debug, Args)]
pub struct NodeRemoveArgs {
    /// The nodes to remove, by their inventory (or cluster) name.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Show what would be done, after checking every host; change nothing.
    #[arg(long)]
    pub plan: bool,
    /// How long draining one node may take.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub drain_timeout: std::time::Duration,
    /// Also evict pods no controller manages (they are lost, not moved).
    #[arg(long)]
    pub force: bool,
    /// Leave ferry's registry CA, hosts entry and containerd mirrors on the hosts.
    #[arg(long)]
    pub keep_node_config: bool,
    /// Remove the first server although the other nodes joined through it: the next install
    /// points every node at the next server, and each restarts once.
    #[arg(long)]
    pub remove_first_server: bool,
    /// Remove the last server: the cluster and its data store end.
    #[arg(long)]
    pub remove_last_server: bool,
    #[command(flatten)]
    pub far_side: FarSideArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Write the state directory of an inventory into one file, encrypted with a passphrase
    /// (age, scrypt), created new with mode 0600.
    Export(StateExportArgs),
    /// Read a file `ferry state export` wrote into the state directory of the same inventory.
    Import(StateImportArgs),
}

#[derive(Debug, Args)]
pub struct StateExportArgs {
    /// The inventory whose state this is.
    #[arg(short, long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// Where to write (a new file).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct StateImportArgs {
    /// A file `ferry state export` wrote.
    pub file: PathBuf,
    /// The inventory whose state this is.
    #[arg(short, long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// Overwrite files the state directory already holds with other values.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct StateArgs {
    /// The state root (as for install); default $FERRY_STATE_DIR, else $XDG_STATE_HOME/ferry,
    /// else ~/.local/state/ferry.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Read the passphrase from this file (first line); else $FERRY_STATE_PASSPHRASE, else a
    /// prompt on the terminal.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the secret key's password from this file (first line).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SbomFormat {
    SpdxJson,
    CyclonedxJson,
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    /// A bundle, or a parts directory.
    pub bundle: PathBuf,
    /// Only this image (its reference as `ferry inspect` shows it).
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// One format only; both by default.
    #[arg(long, value_enum)]
    pub format: Option<SbomFormat>,
    /// Where the documents go (created if needed), one per image and platform.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub accept: AcceptArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A bundle, or a parts directory.
    pub bundle: PathBuf,
    /// The bundle delivered before (or its parts directory): show what changed since.
    #[arg(long, value_name = "OLD")]
    pub base: Option<PathBuf>,
    /// The page to write.
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub accept: AcceptArgs,
}

/// Preflight failures to let through.
#[derive(Debug, Args)]
pub struct IgnorePreflightArgs {
    /// Proceed past these failed preflight checks (comma-separated names, as the table shows
    /// them: disk-space, clock, ports, …); the history records it.
    #[arg(
        long = "ignore-preflight",
        value_name = "NAME[,NAME]",
        value_delimiter = ','
    )]
    pub ignore_preflight: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// A bundle, or a parts directory.
    pub bundle: PathBuf,
    /// The inventory (YAML, `kind: Inventory`).
    #[arg(short, long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// An existing registry install would use instead of its own (as `install --registry-url`).
    #[arg(long, value_name = "HOST:PORT")]
    pub registry_url: Option<String>,
    #[command(flatten)]
    pub ignore: IgnorePreflightArgs,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ssh: SshArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub accept: AcceptArgs,
}

/// One operator at a time: install, push, prune and node removal hold a lock for their run.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// How long to wait for another operator's install, push, prune or node removal to end
    /// before refusing, naming who holds it; 0 refuses at once.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_wait)]
    pub lock_wait: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// A trusted minisign public key (repeatable). Keys in the trusted-keys directory are
    /// trusted too: $FERRY_TRUSTED_KEYS_DIR, else $XDG_CONFIG_HOME/ferry/trusted-keys, else
    /// ~/.config/ferry/trusted-keys.
    #[arg(long = "trusted-key", value_name = "FILE")]
    pub trusted_keys: Vec<PathBuf>,
    /// A trust root (`ferry trust init`): its `bundle` role's keys and threshold sign bundles.
    /// Newer roots a bundle carries replace it when its root keys signed them; the far side
    /// keeps the newest it accepted. Instead of --trusted-key and the trusted-keys directory.
    #[arg(
        long = "trust-root",
        value_name = "FILE",
        conflicts_with = "trusted_keys"
    )]
    pub trust_root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The manifest (YAML).
    #[arg(short, long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// Where to write the bundle.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// minisign secret key to sign the bundle index with.
    #[arg(long, value_name = "FILE", required_unless_present = "unsigned")]
    pub key: Option<PathBuf>,
    /// Write an unsigned bundle. Readers refuse it unless they opt out too.
    #[arg(long, conflicts_with = "key")]
    pub unsigned: bool,
    /// zstd level for compressible content (already-compressed layers are stored as they are).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(-7..=19))]
    pub level: i32,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Registry requests in flight at once.
    #[arg(short = 'j', long = "jobs", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Blob cache (default: $FERRY_CACHE_DIR, else $XDG_CACHE_HOME/ferry, else ~/.cache/ferry).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Write a delta: leave out every blob this base already holds. BASE is an earlier bundle,
    /// its parts directory, or a signed `ferry snapshot` of the far registry; it must be
    /// signed by a trusted key (--trusted-key).
    #[arg(long, value_name = "BASE")]
    pub base: Option<PathBuf>,
    /// Readers refuse the bundle after this: a duration (30d, 12h, 4w), a date (valid through
    /// that day, UTC) or an RFC 3339 time. Default: no expiry.
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
    /// Carry this ferry binary in the bundle (file role `ferry`, this machine's platform), for
    /// the far side's first ferry and `ferry self install` (README).
    #[arg(long)]
    pub include_self: bool,
    /// Carry a trust root (repeatable): the far side moves to it before counting signatures,
    /// if its root keys signed it (`ferry trust`). Carry every version after the far side's.
    #[arg(long = "carry-root", value_name = "FILE")]
    pub carry_roots: Vec<PathBuf>,
    /// Make no SBOMs. By default every image's platform manifests are described (SPDX 2.3 and
    /// CycloneDX 1.5, from their layers) and the documents attached to them as referrers.
    #[arg(long)]
    pub no_sbom: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Allow plain HTTP for this registry (host[:port]); repeatable. Every other registry is
    /// HTTPS only, and a TLS failure never falls back to HTTP.
    #[arg(long = "plain-http", value_name = "HOST")]
    pub plain_http: Vec<String>,
    /// Trust this CA (PEM) for one registry: HOST=FILE; repeatable.
    #[arg(long = "registry-ca", value_name = "HOST=FILE")]
    pub registry_ca: Vec<String>,
    /// Credentials for one registry: HOST=USER:PASSWORD_FILE (the password is read from the file,
    /// or from the environment variable VAR with HOST=USER:env:VAR); repeatable. Taken before
    /// the docker config. Harbor robot names (`robot$NAME`) as they are: quote the flag.
    #[arg(long = "registry-auth", value_name = "HOST=USER:PASSWORD_FILE")]
    pub registry_auth: Vec<String>,
    /// A docker config.json with `auths`, `credHelpers` or `credsStore` (default:
    /// $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json).
    #[arg(long = "registry-auth-file", value_name = "FILE")]
    pub registry_auth_file: Option<PathBuf>,
}

/// The kinds of registry, for --registry-kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RegistryKindArg {
    /// Tell from the registry's answers: Harbor answers its systeminfo API.
    Auto,
    /// The CNCF distribution registry.
    Distribution,
    /// Harbor: repositories in projects, which ferry creates if missing.
    Harbor,
    /// Any other registry that makes repositories on push.
    Generic,
}

/// What kind of registry a push goes into, and where its repositories go in it.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The registry's kind; `auto` detects Harbor.
    #[arg(long, value_enum, default_value_t = RegistryKindArg::Auto)]
    pub registry_kind: RegistryKindArg,
    /// Put every repository under this one project (Harbor) or namespace, instead of one
    /// project per upstream host (docs/registries.md).
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Create missing Harbor projects public (default: private).
    #[arg(long)]
    pub public_projects: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// A bundle, or a parts directory (streamed in one pass, without joining it).
    pub bundle: PathBuf,
    /// The registry, as host:port.
    #[arg(long, value_name = "REGISTRY")]
    pub to: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Reach the registry through this host (ssh://user@host[:port]), for a registry only it
    /// can see; TLS stays end to end. Host keys are checked against --known-hosts.
    #[arg(long, value_name = "ssh://USER@HOST[:PORT]")]
    pub via: Option<String>,
    /// known_hosts for --via (default ~/.ssh/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Blob uploads in flight at once.
    #[arg(short = 'j', long = "jobs", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub accept: AcceptArgs,
    /// Accept a bundle older than the far side holds, or another bundle under a version it
    /// holds: a deliberate rollback, recorded as one in the history.
    #[arg(long)]
    pub allow_downgrade: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// What a reader accepts beyond a current bundle signed by a trusted key.
#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// Accept an unsigned bundle or an unknown signer. An invalid signature is always refused.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Accept a bundle past its expiry time (by this machine's clock).
    #[arg(long)]
    pub allow_expired: bool,
}

#[derive(Debug, Args)]
pub struct SshArgs {
    /// An SSH private key to log in with (repeatable), tried before the inventory's.
    #[arg(long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// Record the keys of hosts not yet in known_hosts instead of refusing them. Never
    /// overrides a changed key. Check the printed fingerprints out of band.
    #[arg(long)]
    pub accept_new_host_keys: bool,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// A bundle, or a parts directory.
    pub bundle: PathBuf,
    /// The inventory (YAML, `kind: Inventory`).
    #[arg(short, long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// Show every step that would run, after checking every host; change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Remove charts that an earlier bundle deployed and this one no longer carries.
    #[arg(long)]
    pub prune: bool,
    /// Start replacing the generated registry CA with a new, name-constrained one: this run
    /// makes nodes trust both; the next install moves the registry to the new CA and drops the
    /// old one (docs/security.md).
    #[arg(long)]
    pub rotate_ca: bool,
    /// Use this existing registry (host:port, as the registry host reaches it) instead of
    /// installing one; the push goes through SSH to it with TLS end to end.
    #[arg(long, value_name = "HOST:PORT")]
    pub registry_url: Option<String>,
    /// --registry-url's kind and layout (Harbor projects).
    #[command(flatten)]
    pub target: TargetArgs,
    /// The account nodes pull from --registry-url with: USER:PASSWORD_FILE or USER:env:VAR
    /// (in Harbor a robot account with pull only, `robot$NAME`). Nodes then mirror every
    /// upstream to it, under --project; without it their registry configuration is left alone.
    #[arg(long, value_name = "USER:PASSWORD_FILE", requires = "registry_url")]
    pub node_pull_auth: Option<String>,
    /// Local state (generated CA, registry password, install record); default
    /// $FERRY_STATE_DIR, else $XDG_STATE_HOME/ferry, else ~/.local/state/ferry.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Blob uploads in flight at once.
    #[arg(short = 'j', long = "jobs", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    #[command(flatten)]
    pub ssh: SshArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub accept: AcceptArgs,
    /// Accept a bundle older than the far side holds, or another bundle under a version it
    /// holds: a deliberate rollback, recorded as one in the history.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Replace k3s even across a downgrade or a jump of more than one minor version
    /// (Kubernetes' version-skew policy forbids both).
    #[arg(long)]
    pub force_k3s_version: bool,
    /// How long draining one node may take before an upgrade (`cluster.upgrade.drain`).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub drain_timeout: std::time::Duration,
    /// How long to wait for each chart's helm install job to finish.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub wait_timeout: std::time::Duration,
    /// Do not wait for the charts' helm install jobs.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Print the result (or the plan) as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lock: LockArgs,
    #[command(flatten)]
    pub ignore: IgnorePreflightArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The registry, as host:port.
    #[arg(long, value_name = "REGISTRY")]
    pub registry: String,
    /// Where to write the signed registry snapshot.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// minisign secret key that signs the snapshot (one the exporting side trusts).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub registry_access: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A bundle, or a parts directory (read as the bundle it makes, without copying it).
    pub bundle: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub accept: AcceptArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A bundle, or a parts directory.
    pub bundle: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print the bundle index as JSON, with the signature status.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SchemaKind {
    /// The export manifest (`kind: Manifest`).
    Manifest,
    /// The install inventory (`kind: Inventory`).
    Inventory,
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    pub bundle: PathBuf,
    /// Directory for the parts (created if needed).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Size of each data part: bytes, or with K, M, G (powers of 1024), e.g. 100M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub part_size: u64,
    /// Repair parts as a percentage of the data parts (rounded up); any that many lost or
    /// corrupt parts can be rebuilt.
    #[arg(long, value_name = "PERCENT", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub repair: u32,
    /// minisign secret key that signs the parts manifest (the bundle's key). The bundle's own
    /// signature must verify first, by this key or a --trusted-key.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Split an unsigned bundle (its parts manifest is still signed): check it with its
    /// producer first.
    #[arg(long)]
    pub adopt_unsigned: bool,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The directory holding the parts and a parts manifest.
    pub dir: PathBuf,
    /// The bundle to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Subcommand)]
pub enum PartsCommand {
    /// Every part of a parts directory as valid, missing or corrupt, and what is still needed.
    Status(PartsStatusArgs),
}

#[derive(Debug, Args)]
pub struct PartsStatusArgs {
    /// The parts directory.
    pub dir: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How the day-2 commands reach an installation: its inventory, the state directory install
/// used, and extra SSH keys; new host keys are never accepted.
#[derive(Debug, Args)]
pub struct FarSideArgs {
    /// The inventory the installation was made with.
    #[arg(short, long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// Local state directory (as for install): the history's copy, and for prune the registry
    /// password and CA.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// An SSH private key to log in with (repeatable), tried before the inventory's.
    #[arg(long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub far_side: FarSideArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Old spelling of `ferry parts status DIR`.
    #[arg(
        hide = true,
        required_unless_present = "inventory",
        conflicts_with = "inventory"
    )]
    pub dir: Option<PathBuf>,
    /// The inventory: per host, what is configured and which bundle is installed.
    #[arg(short, long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Local state directory (as for install).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// An SSH private key to log in with (repeatable), tried before the inventory's.
    #[arg(long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `100M`, `1G`, `512K` (powers of 1024) or plain bytes.
/// `90s`, `5m`, `1h` or plain seconds; at least one second, at most a day.
/// A duration, or 0 for none at all.
pub fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    match text.trim() {
        "0" | "0s" | "0m" => Ok(std::time::Duration::ZERO),
        other => parse_duration(other),
    }
}

pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => (&text[..at], &text[at..]),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        other => return Err(format!("unknown unit `{other}`: use s, m or h")),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 5m or 1h"))?;
    match value.checked_mul(scale) {
        Some(seconds @ 1..=86_400) => Ok(std::time::Duration::from_secs(seconds)),
        _ => Err("the duration must be between 1s and 24h".into()),
    }
}

pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => (&text[..at], text[at..].to_ascii_uppercase()),
        None => (text, String::new()),
    };
    let shift = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        other => return Err(format!("unknown unit `{other}`: use K, M, G or T")),
    };
    let value: u64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 100M"))?;
    let size = value
        .checked_shl(shift)
        .filter(|s| s >> shift == value)
        .ok_or("the size is too large")?;
    if size == 0 {
        return Err("the size must be positive".into());
    }
    Ok(size)
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub old: PathBuf,
    pub new: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// A bundle, a parts directory (both copies of its manifest are signed) or a snapshot.
    pub bundle: PathBuf,
    /// minisign secret key.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Write the signed bundle here instead of replacing BUNDLE.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// One of the bundle's current signers must be one of these (or of the trusted-keys
    /// directory), or the signing key itself.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Sign an unsigned bundle, taking responsibility for its content (it is still verified).
    #[arg(long)]
    pub adopt_unsigned: bool,
    /// Drop the signatures already there: this key's becomes the only one. Without it the
    /// signature is added beside the others (a second person's approval).
    #[arg(long)]
    pub replace: bool,
}

/// Which keys of a trust root: `root` keys sign roots; `bundle` keys sign bundles, parts
/// manifests and registry snapshots.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TrustRole {
    Root,
    Bundle,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Write a new trust root, version 1, unsigned: its root and bundle keys and thresholds.
    /// Then each root key holder signs it with `ferry trust sign`.
    Init(TrustInitArgs),
    /// Give a role another key. Editing a signed root writes the next version (-o NEW).
    AddKey(TrustAddKeyArgs),
    /// Take a key from a role (a person left, a key leaked): bundles it signs stop counting
    /// once the far side has the new version.
    RemoveKey(TrustRemoveKeyArgs),
    /// Set how many distinct keys of a role must sign.
    Threshold(TrustThresholdArgs),
    /// Set when the root expires: a duration (365d), a date or an RFC 3339 time.
    Expires(TrustExpiresArgs),
    /// Add a signature to a trust root (a root key of this version, or of the one before).
    Sign(TrustSignArgs),
    /// Show a trust root: version, expiry, keys per role, signatures and whether they suffice;
    /// with --previous, whether it follows that version.
    Show(TrustShowArgs),
}

#[derive(Debug, Args)]
pub struct TrustInitArgs {
    /// The root file to write.
    pub root: PathBuf,
    /// A minisign public key (.pub) that signs roots (repeatable).
    #[arg(long = "root-key", value_name = "FILE", required = true)]
    pub root_keys: Vec<PathBuf>,
    /// How many root keys must sign a root.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub root_threshold: u64,
    /// A minisign public key (.pub) that signs bundles (repeatable).
    #[arg(long = "bundle-key", value_name = "FILE", required = true)]
    pub bundle_keys: Vec<PathBuf>,
    /// How many bundle keys must sign a bundle: 2 for a two-person rule.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub bundle_threshold: u64,
    /// When the root expires: a duration (365d), a date or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", default_value = "365d")]
    pub expires: String,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// The root an edit reads and where it writes.
#[derive(Debug, Args)]
pub struct TrustEditTarget {
    /// The root file.
    pub root: PathBuf,
    /// Write here instead of ROOT. Needed when ROOT is signed: the edit is then the next
    /// version, and ROOT stays as it is (the far side needs every version in turn).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TrustAddKeyArgs {
    #[command(flatten)]
    pub target: TrustEditTarget,
    #[arg(long, value_enum)]
    pub role: TrustRole,
    /// The minisign public key (.pub).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
}

#[derive(Debug, Args)]
pub struct TrustRemoveKeyArgs {
    #[command(flatten)]
    pub target: TrustEditTarget,
    #[arg(long, value_enum)]
    pub role: TrustRole,
    /// The key: its minisign key id, its TUF key id, or its .pub file.
    #[arg(long, value_name = "KEY")]
    pub key: String,
}

#[derive(Debug, Args)]
pub struct TrustThresholdArgs {
    #[command(flatten)]
    pub target: TrustEditTarget,
    #[arg(long, value_enum)]
    pub role: TrustRole,
    /// Distinct keys of the role that must sign.
    pub threshold: u64,
}

#[derive(Debug, Args)]
pub struct TrustExpiresArgs {
    #[command(flatten)]
    pub target: TrustEditTarget,
    /// A duration (365d, 52w), a date (valid through that day, UTC) or an RFC 3339 time.
    pub when: String,
}

#[derive(Debug, Args)]
pub struct TrustSignArgs {
    /// The root file; signed in place unless -o.
    pub root: PathBuf,
    /// minisign secret key of a root key holder.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TrustShowArgs {
    /// The root file.
    pub root: PathBuf,
    /// The version before it: show whether this one follows it (signed by its root keys).
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a minisign key pair: PREFIX.key (mode 0600) and PREFIX.pub.
    Generate {
        /// Path prefix of the two files.
        #[arg(short, long, value_name = "PREFIX", default_value = "ferry")]
        output: PathBuf,
        /// Do not encrypt the secret key (for automation only).
        #[arg(long)]
        unencrypted: bool,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    /// Every command appears once in `ferry --help`'s groups, and the groups name no other.
    #[test]
    fn the_help_groups_list_every_command_once() {
        use clap::CommandFactory;
        let listed: Vec<&str> = super::HELP_TEMPLATE
            .lines()
            .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        let mut commands: Vec<String> = super::Cli::command()
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name().to_owned())
            .collect();
        commands.push("help".into());
        let mut sorted_listed: Vec<String> = listed.iter().map(|s| (*s).to_owned()).collect();
        sorted_listed.sort();
        commands.sort();
        assert_eq!(sorted_listed, commands);
    }

    #[test]
    fn sizes_parse_with_binary_units_and_refuse_nonsense() {
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("256k"), Ok(256 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "0", "12Q", "M", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
