//! Split a bundle into data parts (their concatenation in order is the bundle, byte for byte)
//! and Reed-Solomon repair parts, striped across the data parts so memory stays bounded.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use reed_solomon_simd::ReedSolomonEncoder;

use super::manifest::{
    PARTS_FORMAT_VERSION, PartEntry, PartsManifest, REPAIR_ALGORITHM, RepairParameters,
};
use crate::digest::{Digest, Hasher};
use crate::error::Error;
use crate::progress::Progress;
use crate::reader::{BundleReader, SignaturePolicy};
use crate::signing::SigningKey;

/// Memory for one stripe of all parts together.
const STRIPE_BUDGET: u64 = 64 << 20;
const MAX_STRIPE: u64 = 1 << 20;

#[derive(Debug, Clone, Copy)]
pub struct SplitOptions {
    pub part_size: u64,
    /// Repair parts as a percentage of the data parts, rounded up (0 for none).
    pub repair_percent: u32,
}

pub fn data_part_name(name: &str, version: &str, index: usize, count: usize) -> String {
    format!("{name}-{version}.{index}-of-{count}.part")
}

pub fn repair_part_name(name: &str, version: &str, index: usize, count: usize) -> String {
    format!("{name}-{version}.repair-{index}-of-{count}.rpart")
}

/// Bytes per stripe: even, at most 1 MiB, and small enough that one stripe of every part fits
/// the budget.
pub fn stripe_bytes(part_size: u64, shards: u64) -> u64 {
    let by_budget = STRIPE_BUDGET / shards.max(1);
    let stripe = part_size.min(MAX_STRIPE).min(by_budget).max(64);
    stripe + stripe % 2
}

pub fn split(
    bundle: &Path,
    out_dir: &Path,
    options: SplitOptions,
    key: &SigningKey,
) -> Result<PartsManifest, Error> {
    let io = |what: String| move |e: std::io::Error| Error::io(what.clone(), e);
    if options.part_size == 0 {
        return Err(Error::io(
            "splitting",
            std::io::Error::other("the part size must be positive"),
        ));
    }
    let mut file = File::open(bundle).map_err(io(format!("opening {}", bundle.display())))?;
    let bundle_size = file
        .metadata()
        .map_err(io("reading the bundle size".into()))?
        .len();
    let head = BundleReader::open(
        file.try_clone().map_err(io("opening the bundle".into()))?,
        &SignaturePolicy::Report(Vec::new()),
    )?;
    let (name, version) = (head.index().name.clone(), head.index().version.clone());
    let bundle_id = Digest::of(head.index_bytes());
    drop(head);
    // the clone shares the cursor: start the copy from the first byte
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))
        .map_err(io("seeking in the bundle".into()))?;
    std::fs::create_dir_all(out_dir).map_err(io(format!("creating {}", out_dir.display())))?;

    let count = usize::try_from(bundle_size.div_ceil(options.part_size))
        .unwrap_or(usize::MAX)
        .max(1);
    let mut input = BufReader::with_capacity(1 << 20, file);
    // The whole-bundle sha256 runs on its own thread: per-part hashing and writing keep this one
    // busy, and every byte needs both hashes.
    let (to_whole, chunks) = std::sync::mpsc::sync_channel::<std::sync::Arc<[u8]>>(16);
    let whole = std::thread::spawn(move || {
        let mut hasher = Hasher::default();
        for chunk in chunks {
            hasher.update(&chunk);
        }
        hasher.finish().0
    });
    let mut parts = Vec::with_capacity(count);
    let mut progress = Progress::start("split", bundle_size);
    let mut buffer = vec![0u8; 1 << 20];
    for index in 1..=count {
        let file_name = data_part_name(&name, &version, index, count);
        let path = out_dir.join(&file_name);
        let mut out = BufWriter::with_capacity(
            1 << 20,
            File::create(&path).map_err(io(format!("creating {}", path.display())))?,
        );
        let mut hasher = Hasher::default();
        let mut remaining = options
            .part_size
            .min(bundle_size - (index as u64 - 1) * options.part_size);
        while remaining > 0 {
            let want = usize::try_from(remaining.min(buffer.len() as u64)).unwrap_or(buffer.len());
            let n = input
                .read(&mut buffer[..want])
                .map_err(io("reading the bundle".into()))?;
            if n == 0 {
                return Err(Error::io(
                    "reading the bundle",
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "it shrank while being split",
                    ),
                ));
            }
            hasher.update(&buffer[..n]);
            let _ = to_whole.send(std::sync::Arc::from(&buffer[..n]));
            out.write_all(&buffer[..n])
                .map_err(io(format!("writing {}", path.display())))?;
            progress.advance(n as u64);
            remaining -= n as u64;
        }
        // Flushed, not fsynced: join checks every part against its signed sha256 anyway.
        out.flush()
            .map_err(io(format!("writing {}", path.display())))?;
        let (sha256, size) = hasher.finish();
        parts.push(PartEntry {
            file: file_name,
            sha256,
            size,
        });
    }
    progress.finish();
    drop(to_whole);
    let bundle_sha256 = whole.join().map_err(|_| {
        Error::io(
            "hashing the bundle",
            std::io::Error::other("the hashing thread failed"),
        )
    })?;

    let recovery =
        usize::try_from((count as u64 * u64::from(options.repair_percent)).div_ceil(100))
            .unwrap_or(0);
    let stripe = stripe_bytes(options.part_size, (count + recovery) as u64);
    let repair_parts = if recovery == 0 {
        Vec::new()
    } else {
        write_repair(
            out_dir,
            &name,
            &version,
            &parts,
            options.part_size,
            stripe,
            recovery,
        )?
    };
    let manifest = PartsManifest {
        format_version: PARTS_FORMAT_VERSION,
        bundle_id,
        bundle_name: name.clone(),
        bundle_version: version.clone(),
        bundle_sha256,
        bundle_size,
        part_size: options.part_size,
        parts,
        repair: RepairParameters {
            algorithm: REPAIR_ALGORITHM.into(),
            stripe_bytes: stripe,
            parts: repair_parts,
        },
    };
    let envelope = manifest.sign(key)?;
    for copy in PartsManifest::copy_names(&name, &version) {
        let path = out_dir.join(copy);
        std::fs::write(&path, &envelope).map_err(io(format!("writing {}", path.display())))?;
    }
    Ok(manifest)
}

/// Stripe by stripe: each data part's slice (zero-padded) is an original shard; each repair
/// part gets one recovery shard per stripe.
fn write_repair(
    out_dir: &Path,
    name: &str,
    version: &str,
    parts: &[PartEntry],
    part_size: u64,
    stripe: u64,
    recovery: usize,
) -> Result<Vec<PartEntry>, Error> {
    let io = |what: String| move |e: std::io::Error| Error::io(what.clone(), e);
    let sources = parts
        .iter()
        .map(|p| File::open(out_dir.join(&p.file)).map_err(io(format!("reading {}", p.file))))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = (1..=recovery)
        .map(|j| repair_part_name(name, version, j, recovery))
        .collect();
    let mut outputs = names
        .iter()
        .map(|n| {
            File::create(out_dir.join(n))
                .map(|f| BufWriter::with_capacity(1 << 20, f))
                .map_err(io(format!("creating {n}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut hashers = vec![Hasher::default(); recovery];
    let shard = usize::try_from(stripe).unwrap_or(0);
    let rs_error = |e: reed_solomon_simd::Error| {
        Error::io(
            "computing repair parts",
            std::io::Error::other(e.to_string()),
        )
    };
    let mut encoder = ReedSolomonEncoder::new(parts.len(), recovery, shard).map_err(rs_error)?;
    let mut slice = vec![0u8; shard];
    let stripes = part_size.div_ceil(stripe);
    let mut progress = Progress::start("repair", stripes * stripe * parts.len() as u64);
    for k in 0..stripes {
        encoder
            .reset(parts.len(), recovery, shard)
            .map_err(rs_error)?;
        for (source, part) in sources.iter().zip(parts) {
            read_stripe(source, part.size, k * stripe, &mut slice)
                .map_err(io(format!("reading {}", part.file)))?;
            encoder.add_original_shard(&slice).map_err(rs_error)?;
            progress.advance(stripe);
        }
        let result = encoder.encode().map_err(rs_error)?;
        for ((shard, out), hasher) in result.recovery_iter().zip(&mut outputs).zip(&mut hashers) {
            hasher.update(shard);
            out.write_all(shard)
                .map_err(io("writing a repair part".into()))?;
        }
    }
    progress.finish();
    let mut entries = Vec::with_capacity(recovery);
    for ((mut out, hasher), file) in outputs.into_iter().zip(hashers).zip(names) {
        out.flush().map_err(io(format!("writing {file}")))?;
        let (sha256, size) = hasher.finish();
        entries.push(PartEntry { file, sha256, size });
    }
    Ok(entries)
}

/// A part's bytes at `offset`, zero-padded to the slice's length.
pub(super) fn read_stripe(
    file: &File,
    part_len: u64,
    offset: u64,
    slice: &mut [u8],
) -> std::io::Result<()> {
    slice.fill(0);
    if offset >= part_len {
        return Ok(());
    }
    let want = usize::try_from((part_len - offset).min(slice.len() as u64)).unwrap_or(0);
    file.read_exact_at(&mut slice[..want], offset)
}
