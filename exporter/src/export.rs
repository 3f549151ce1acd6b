//! Export: plan (metadata only), then fetch registry blobs concurrently into the verified cache
//! while the writer streams every blob, in index order, into the bundle. The writer waits for a
//! blob only if its fetch has not finished yet, so fetching and writing overlap.

use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use bundle_format::base::BaseBlobs;
use bundle_format::error::WriteProblem;
use bundle_format::progress::Progress;
use bundle_format::{BundleWriter, Digest, SigningKey, WriteSummary, WriterOptions};
use futures_util::StreamExt;

use crate::error::ExportError;
use crate::manifest::LoadedManifest;
use crate::plan::delta::{CutSummary, cut_against};
use crate::plan::{BlobSource, ExportPlan, plan};
use crate::remote::registry::BlobSpec;
use crate::remote::{BlobCache, Registries, RegistryOptions};
use crate::sboms::{SbomJob, SbomSummary, attach};

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub writer: WriterOptions,
    /// Registry requests in flight at once (`-j`).
    pub concurrency: usize,
    pub cache_dir: PathBuf,
    pub registries: RegistryOptions,
    /// Cut a delta against this base (`--base`).
    pub base: Option<BaseBlobs>,
    /// When readers stop accepting the bundle (`--expires`), RFC 3339 UTC.
    pub expires: Option<String>,
    /// Trust root files carried for the far side to rotate to (`--carry-root`), each its text.
    pub trust_roots: Vec<String>,
    /// Describe every image in SBOMs attached to it (on unless `--no-sbom`).
    pub sbom: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            writer: WriterOptions::default(),
            concurrency: 8,
            cache_dir: BlobCache::default_dir(),
            registries: RegistryOptions::default(),
            base: None,
            expires: None,
            trust_roots: Vec::new(),
            sbom: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub write: WriteSummary,
    pub images: usize,
    pub charts: usize,
    pub files: usize,
    /// Registry blob bytes downloaded by this run.
    pub fetched_bytes: u64,
    /// Registry blobs found, verified, in the cache.
    pub cached_blobs: u64,
    /// For a delta: the blobs left out because the base holds them.
    pub assumed: Option<CutSummary>,
    /// What the SBOM step made; None with `--no-sbom`.
    pub sboms: Option<SbomSummary>,
    pub warnings: Vec<String>,
}

/// Export `manifest` into `out`, which must be seekable: with SBOMs, the completed index is
/// written over a draft at the end (docs/bundle-format.md §4.6).
pub fn export<W: Write + Seek>(
    manifest: &LoadedManifest,
    out: W,
    signer: Option<&SigningKey>,
    options: &ExportOptions,
) -> Result<(W, ExportSummary), ExportError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            ExportError::source(
                "export",
                format!("cannot start the I/O runtime: {e}"),
                "check system limits",
            )
        })?;
    let registries = Registries::new(options.registries.clone());
    let cache = BlobCache::open(&options.cache_dir).map_err(|e| {
        ExportError::source(
            "the blob cache",
            format!("cannot use {}: {e}", options.cache_dir.display()),
            "pass --cache-dir DIR with a writable directory",
        )
    })?;
    let mut plan = runtime.block_on(plan(manifest, &registries, &cache, options.concurrency))?;
    let readiness = Arc::new(Readiness::default());
    let stats = Arc::new(FetchStats::default());
    let start_fetching = |plan: &ExportPlan| {
        runtime.spawn(fetch_all(
            fetch_jobs(plan),
            cache.clone(),
            readiness.clone(),
            stats.clone(),
            options.concurrency,
        ))
    };
    let counts = (
        plan.index.images.len(),
        plan.index.charts.len(),
        plan.index.files.len(),
    );
    let mut warnings = plan.warnings.clone();
    // The SBOMs read every layer, those a delta leaves out too: fetching starts before the cut.
    let mut fetching = options.sbom.then(|| start_fetching(&plan));
    let job = if options.sbom {
        let sources = &plan.sources;
        SbomJob::prepare(&plan, &|digest| {
            open_blob(sources, digest, None, &readiness)
        })
        .map(Some)
    } else {
        Ok(None)
    };
    let outcome = match job {
        Ok(Some(job)) if !job.is_empty() => {
            write_with_sboms(&mut plan, &job, out, signer, options, &readiness)
        }
        Ok(job) => {
            let assumed = finish_index(&mut plan, options);
            if fetching.is_none() {
                fetching = Some(start_fetching(&plan));
            }
            write_bundle(plan, out, signer, options.writer, &readiness).map(|(out, write)| {
                let sboms = job.map(|_| SbomSummary::default());
                (out, write, sboms, assumed)
            })
        }
        Err(error) => Err(error),
    };
    if outcome.is_err() {
        readiness.cancel();
        if let Some(fetching) = &fetching {
            fetching.abort();
        }
    }
    if let Some(fetching) = fetching {
        let _ = runtime.block_on(fetching);
    }
    let (out, write, sboms, assumed) = outcome?;
    if let Some(made) = &sboms {
        warnings.extend(made.skipped.iter().map(|why| format!("no SBOM for {why}")));
    }
    Ok((
        out,
        ExportSummary {
            write,
            images: counts.0,
            charts: counts.1,
            files: counts.2,
            fetched_bytes: stats.fetched_bytes.load(Ordering::Relaxed),
            cached_blobs: stats.cached_blobs.load(Ordering::Relaxed),
            assumed,
            sboms,
            warnings,
        },
    ))
}

type Written<W> = (W, WriteSummary, Option<SbomSummary>, Option<CutSummary>);

/// The last steps of the index: the delta cut, expiry, trust roots and the format version
/// they need.
fn finish_index(plan: &mut ExportPlan, options: &ExportOptions) -> Option<CutSummary> {
    let assumed = options.base.as_ref().map(|base| cut_against(plan, base));
    plan.index.expires.clone_from(&options.expires);
    plan.index.trust_roots.clone_from(&options.trust_roots);
    plan.index.format_version = plan.index.lowest_format_version();
    assumed
}

/// Write the bundle while the SBOM documents are made: a draft index with stand-ins for them
/// first, then every other blob while a second thread reads the layers, then the documents and
/// the completed index.
fn write_with_sboms<W: Write + Seek>(
    plan: &mut ExportPlan,
    job: &SbomJob,
    out: W,
    signer: Option<&SigningKey>,
    options: &ExportOptions,
    readiness: &Readiness,
) -> Result<Written<W>, ExportError> {
    let stand_ins = job.stand_ins();
    let mut draft = plan.clone();
    attach(&mut draft, &stand_ins);
    finish_index(&mut draft, options);
    let known: HashSet<Digest> = plan.index.blobs.iter().map(|b| b.digest).collect();
    let late = draft
        .index
        .blobs
        .iter()
        .filter(|b| !known.contains(&b.digest))
        .count();
    let early = draft.index.blobs.len() - late;
    let plan_now: &ExportPlan = plan;
    let (written, made) = std::thread::scope(|scope| {
        let scan = std::thread::Builder::new()
            .name("sbom-layers".into())
            .spawn_scoped(scope, || {
                let open = |digest: &Digest| open_blob(&plan_now.sources, digest, None, readiness);
                job.make(plan_now, &open)
            })
            .map_err(|e| {
                ExportError::source(
                    "the SBOMs",
                    format!("cannot start the thread that reads the layers: {e}"),
                    "check the system's thread limits, or export with --no-sbom",
                )
            })?;
        let written = BundleWriter::new_draft(out, draft.index, late, signer, options.writer)
            .map_err(ExportError::from)
            .and_then(|mut writer| {
                write_next(&mut writer, plan_now, early, readiness)?;
                Ok(writer)
            });
        if written.is_err() {
            readiness.cancel();
        }
        let made = scan.join().unwrap_or_else(|_| {
            Err(ExportError::source(
                "the SBOMs",
                "the thread reading the layers stopped",
                "report this as a bug",
            ))
        });
        Ok::<_, ExportError>((written, made))
    })?;
    let mut writer = written?;
    let made = made?;
    let mut sboms = made.summary;
    sboms.documents = attach(plan, &made.documents);
    let assumed = finish_index(plan, options);
    writer.complete(plan.index.clone(), signer)?;
    let remaining = plan.index.blobs.len() - early;
    write_next(&mut writer, plan, remaining, readiness)?;
    let (out, write) = writer.finish()?;
    Ok((out, write, Some(sboms), assumed))
}

struct FetchJob {
    digest: Digest,
    size: u64,
    media_type: String,
    owner: String,
    source: BlobSource,
}

fn fetch_jobs(plan: &ExportPlan) -> Vec<FetchJob> {
    plan.index
        .blobs
        .iter()
        .filter_map(|blob| match plan.sources.get(&blob.digest) {
            Some(source @ BlobSource::Remote { .. }) => Some(FetchJob {
                digest: blob.digest,
                size: blob.size,
                media_type: blob.media_type.clone(),
                owner: plan.owners.get(&blob.digest).cloned().unwrap_or_default(),
                source: source.clone(),
            }),
            _ => None,
        })
        .collect()
}

#[derive(Debug, Default)]
struct FetchStats {
    fetched_bytes: AtomicU64,
    cached_blobs: AtomicU64,
}

/// Which fetched blobs are in the cache, or why one failed.
#[derive(Debug, Default)]
struct Readiness {
    state: Mutex<ReadyState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct ReadyState {
    outcomes: HashMap<Digest, Result<PathBuf, String>>,
    /// The export failed: nobody waits for a blob any more.
    cancelled: bool,
}

impl Readiness {
    fn set(&self, digest: Digest, outcome: Result<PathBuf, String>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.outcomes.insert(digest, outcome);
        self.changed.notify_all();
    }

    fn cancel(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.cancelled = true;
        self.changed.notify_all();
    }

    fn wait(&self, digest: &Digest) -> Result<PathBuf, String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = state.outcomes.get(digest) {
                return outcome.clone();
            }
            if state.cancelled {
                return Err(format!(
                    "{digest}: the export stopped before it was fetched"
                ));
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Bytes that may be downloading at once, on top of the request limit. Parallel downloads share
/// the link (and, on a fast one, the CPU) evenly, so every blob would finish late; the writer
/// needs them in index order. Within this budget small blobs still go `concurrency` at a time,
/// while large ones arrive one after another, each written while the next one downloads.
const BYTES_IN_FLIGHT_MIB: u32 = 64;

/// Fetch every registry blob, `concurrency` at a time and within the bytes budget, in index
/// order so the writer's next blob is always among the first in flight.
async fn fetch_all(
    jobs: Vec<FetchJob>,
    cache: BlobCache,
    readiness: Arc<Readiness>,
    stats: Arc<FetchStats>,
    concurrency: usize,
) {
    let progress = Arc::new(FetchProgress::new(&jobs));
    let budget = Arc::new(tokio::sync::Semaphore::new(BYTES_IN_FLIGHT_MIB as usize));
    futures_util::stream::iter(jobs)
        .for_each_concurrent(concurrency.max(1), |job| {
            let (cache, readiness, stats, progress, budget) = (
                cache.clone(),
                readiness.clone(),
                stats.clone(),
                progress.clone(),
                budget.clone(),
            );
            async move {
                let mib = u32::try_from(job.size.div_ceil(1 << 20)).unwrap_or(u32::MAX);
                let permit = budget.acquire_many(mib.clamp(1, BYTES_IN_FLIGHT_MIB)).await;
                let streamed = AtomicU64::new(0);
                let on_bytes = |n: u64| {
                    streamed.fetch_add(n, Ordering::Relaxed);
                    progress.advance(&job.owner, n);
                };
                let outcome = fetch_one(&job, &cache, &stats, &on_bytes)
                    .await
                    .map_err(|e| e.to_string());
                drop(permit);
                progress.blob_done(&job.owner, job.size, streamed.load(Ordering::Relaxed));
                readiness.set(job.digest, outcome);
            }
        })
        .await;
    progress.finish();
}

/// Fetch progress: one overall bar, and one per artifact while its blobs are downloading.
struct FetchProgress {
    overall: Mutex<Progress>,
    artifacts: Mutex<HashMap<String, ArtifactProgress>>,
}

struct ArtifactProgress {
    total: u64,
    /// Bytes of blobs not yet finished.
    remaining: u64,
    bar: Option<Progress>,
}

impl FetchProgress {
    fn new(jobs: &[FetchJob]) -> Self {
        let mut artifacts: HashMap<String, ArtifactProgress> = HashMap::new();
        for job in jobs {
            let entry = artifacts
                .entry(job.owner.clone())
                .or_insert(ArtifactProgress {
                    total: 0,
                    remaining: 0,
                    bar: None,
                });
            entry.total += job.size;
            entry.remaining += job.size;
        }
        let total = jobs.iter().map(|j| j.size).sum();
        Self {
            overall: Mutex::new(Progress::start("fetch", total)),
            artifacts: Mutex::new(artifacts),
        }
    }

    fn advance(&self, owner: &str, bytes: u64) {
        if let Ok(mut overall) = self.overall.lock() {
            overall.advance(bytes);
        }
        if let Ok(mut artifacts) = self.artifacts.lock()
            && let Some(artifact) = artifacts.get_mut(owner)
        {
            let total = artifact.total;
            artifact
                .bar
                .get_or_insert_with(|| Progress::start(owner, total))
                .advance(bytes);
        }
    }

    /// A blob is through (downloaded, found in the cache, or failed): count what was not
    /// streamed, and close the artifact's bar once all its blobs are through.
    fn blob_done(&self, owner: &str, size: u64, streamed: u64) {
        if size > streamed {
            self.advance(owner, size - streamed);
        }
        let Ok(mut artifacts) = self.artifacts.lock() else {
            return;
        };
        let finished = artifacts.get_mut(owner).is_some_and(|artifact| {
            artifact.remaining = artifact.remaining.saturating_sub(size);
            artifact.remaining == 0
        });
        if finished && let Some(mut bar) = artifacts.remove(owner).and_then(|a| a.bar) {
            bar.finish();
        }
    }

    fn finish(&self) {
        if let Ok(mut overall) = self.overall.lock() {
            overall.finish();
        }
    }
}

async fn fetch_one(
    job: &FetchJob,
    cache: &BlobCache,
    stats: &FetchStats,
    on_bytes: &(dyn Fn(u64) + Send + Sync),
) -> Result<PathBuf, ExportError> {
    let BlobSource::Remote { client, reference } = &job.source else {
        return Err(ExportError::source(
            &job.owner,
            "not a registry blob",
            "report this as a bug",
        ));
    };
    let (check_cache, digest, size) = (cache.clone(), job.digest, job.size);
    let cached = tokio::task::spawn_blocking(move || check_cache.has_verified(&digest, size))
        .await
        .unwrap_or(false);
    if cached {
        stats.cached_blobs.fetch_add(1, Ordering::Relaxed);
        return Ok(cache.path(&job.digest));
    }
    let temp = cache.temp_path(&job.digest);
    let pulled = client
        .blob_to_file(
            reference,
            BlobSpec {
                digest: &job.digest,
                size: job.size,
                media_type: &job.media_type,
            },
            &temp,
            &job.owner,
            on_bytes,
        )
        .await;
    if let Err(error) = pulled {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(error);
    }
    stats.fetched_bytes.fetch_add(job.size, Ordering::Relaxed);
    cache.commit(&temp, &job.digest).map_err(|e| {
        ExportError::source(
            &job.owner,
            format!("cannot move {} into the cache: {e}", job.digest),
            "check the cache directory",
        )
    })
}

fn write_bundle<W: Write>(
    plan: ExportPlan,
    out: W,
    signer: Option<&SigningKey>,
    options: WriterOptions,
    readiness: &Readiness,
) -> Result<(W, WriteSummary), ExportError> {
    let count = plan.index.blobs.len();
    let mut writer = BundleWriter::new(out, plan.index.clone(), signer, options)?;
    write_next(&mut writer, &plan, count, readiness)?;
    Ok(writer.finish()?)
}

/// Write the next `count` blobs the writer expects, from their sources in `plan`.
fn write_next<W: Write>(
    writer: &mut BundleWriter<W>,
    plan: &ExportPlan,
    count: usize,
    readiness: &Readiness,
) -> Result<(), ExportError> {
    for _ in 0..count {
        let Some(&digest) = writer.next_expected() else {
            break;
        };
        let Some(source) = plan.sources.get(&digest) else {
            return Err(ExportError::source(
                digest.to_string(),
                "the plan has no source for this blob",
                "report this as a bug",
            ));
        };
        let owner = plan.owners.get(&digest);
        let mut reader = open_blob(&plan.sources, &digest, owner, readiness)?;
        writer
            .add_blob(&digest, &mut reader)
            .map_err(|e| blame(e, owner, source))?;
    }
    Ok(())
}

/// A blob of the plan, as a stream; a registry blob once its download is in the cache.
fn open_blob<'a>(
    sources: &'a HashMap<Digest, BlobSource>,
    digest: &Digest,
    owner: Option<&String>,
    readiness: &Readiness,
) -> Result<Box<dyn Read + 'a>, ExportError> {
    let Some(source) = sources.get(digest) else {
        return Err(ExportError::source(
            digest.to_string(),
            "the plan has no source for this blob",
            "report this as a bug",
        ));
    };
    let open = |path: &std::path::Path| -> Result<Box<dyn Read + 'a>, ExportError> {
        let file = bundle_format::bounded::open_regular(path).map_err(|e| {
            ExportError::source(
                owner.cloned().unwrap_or_else(|| digest.to_string()),
                format!("cannot open {}: {e}", path.display()),
                "the source changed since planning: export again",
            )
        })?;
        Ok(Box::new(BufReader::with_capacity(256 << 10, file)))
    };
    match source {
        BlobSource::File(path) => open(path),
        BlobSource::Packaged(temp) => open(temp.path()),
        BlobSource::Metadata(bytes) => Ok(Box::new(bytes.as_slice())),
        BlobSource::Remote { .. } => open(&readiness.wait(digest).map_err(ExportError::Fetch)?),
    }
}

/// Name the artifact a failed blob belongs to; a source that no longer matches its digest is the
/// user's to fix, so say so in their terms.
fn blame(error: bundle_format::Error, owner: Option<&String>, source: &BlobSource) -> ExportError {
    let owner = owner.cloned().unwrap_or_else(|| "a blob".to_owned());
    match (&error, source) {
        (
            bundle_format::Error::Write(WriteProblem::SourceMismatch {
                expected, actual, ..
            }),
            BlobSource::File(path),
        ) => ExportError::source(
            owner,
            format!(
                "{} has sha256 {}, but {} was expected (pinned in the manifest or read at planning)",
                path.display(),
                actual.hex(),
                expected.hex()
            ),
            "the file changed or the pin is wrong: check where it came from, then fix the pin or export again",
        ),
        _ => ExportError::source(
            owner,
            error.to_string(),
            "fix the cause above and export again",
        ),
    }
}
