//! Split a bundle into data parts (their concatenation in order is the bundle, byte for byte)
//! and Reed-Solomon repair parts, striped across the data parts so memory stays bounded.

use std::fs::File;
use std::io::{BufReader, Read, Write};
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
use crate::signing::{SignatureCheck, SigningKey, Trust};

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
    trusted: &Trust,
    adopt_unsigned: bool,
) -> Result<PartsManifest, Error> {
    let io = |what: String| move |e: std::io::Error| Error::io(what.clone(), e);
    if options.part_size == 0 {
        return Err(Error::io(
            "splitting",
            std::io::Error::other("the part size must be positive"),
        ));
    }
    let file = crate::bounded::open_regular(bundle)
        .map_err(io(format!("opening {}", bundle.display())))?;
    let bundle_size = file
        .metadata()
        .map_err(io("reading the bundle size".into()))?
        .len();
    // Parts are never larger than the data: a part size beyond the bundle gives one part of the
    // bundle's size, and repair parts (and the stripe loop) follow it.
    let options = SplitOptions {
        part_size: options.part_size.min(bundle_size.max(1)),
        ..options
    };
    let head = BundleReader::open(
        file.try_clone().map_err(io("opening the bundle".into()))?,
        &SignaturePolicy::Report(Trust::none()),
    )?;
    let (name, version) = (head.index().name.clone(), head.index().version.clone());
    let trust_roots = head.index().trust_roots.clone();
    let bundle_id = Digest::of(head.index_bytes());
    drop(head);
    std::fs::create_dir_all(out_dir).map_err(io(format!("creating {}", out_dir.display())))?;

    // The whole bundle is verified (every entry and digest, its signature by a trusted key: the
    // signing key's own or one of `trusted`) and its sha256 taken in one front-to-back read on
    // its own thread, while this one cuts it stripe by stripe: a damaged or altered bundle is
    // never signed into parts and sent across.
    let whole_path = bundle.to_path_buf();
    let trusted = trusted.clone().with(key.trusted_key());
    let whole = std::thread::spawn(move || verify_and_hash(&whole_path, &trusted, adopt_unsigned));

    let count = usize::try_from(bundle_size.div_ceil(options.part_size))
        .unwrap_or(usize::MAX)
        .max(1);
    let recovery =
        usize::try_from((count as u64 * u64::from(options.repair_percent)).div_ceil(100))
            .unwrap_or(0);
    let stripe = stripe_bytes(options.part_size, (count + recovery) as u64);
    let lengths: Vec<u64> = (0..count as u64)
        .map(|i| {
            options
                .part_size
                .min(bundle_size.saturating_sub(i * options.part_size))
        })
        .collect();
    let data_names: Vec<String> = (1..=count)
        .map(|i| data_part_name(&name, &version, i, count))
        .collect();
    let repair_names: Vec<String> = (1..=recovery)
        .map(|j| repair_part_name(&name, &version, j, recovery))
        .collect();
    let create = |file_name: &String| {
        let path = out_dir.join(file_name);
        File::create(&path).map_err(io(format!("creating {}", path.display())))
    };
    let mut data_files = data_names
        .iter()
        .map(create)
        .collect::<Result<Vec<_>, _>>()?;
    let mut repair_files = repair_names
        .iter()
        .map(create)
        .collect::<Result<Vec<_>, _>>()?;
    let shard = usize::try_from(stripe).unwrap_or(0);
    let rs_error = |e: reed_solomon_simd::Error| {
        Error::io(
            "computing repair parts",
            std::io::Error::other(e.to_string()),
        )
    };
    let mut encoder = if recovery > 0 {
        Some(ReedSolomonEncoder::new(count, recovery, shard).map_err(rs_error)?)
    } else {
        None
    };
    let mut progress = Progress::start("split", bundle_size);
    // Two stages on two threads: this one reads each stripe of every part once and writes the
    // data parts; a worker hashes the slices, encodes the repair shards and writes them. Two
    // stripe sets circulate between them, so memory stays at two stripes of every part.
    let (to_worker, stripes) = std::sync::mpsc::sync_channel::<Vec<(Vec<u8>, usize)>>(1);
    let (give_back, recycled) = std::sync::mpsc::sync_channel::<Vec<(Vec<u8>, usize)>>(2);
    for _ in 0..2 {
        let _ = give_back.send(vec![(vec![0_u8; shard], 0); count]);
    }
    let repair_names_ref = &repair_names;
    let (data_hashers, repair_hashers) = std::thread::scope(|scope| {
        let worker = scope.spawn(move || -> Result<(Vec<Hasher>, Vec<Hasher>), Error> {
            let mut data_hashers = vec![Hasher::default(); count];
            let mut repair_hashers = vec![Hasher::default(); recovery];
            for set in stripes {
                for (i, (slice, len)) in set.iter().enumerate() {
                    data_hashers[i].update(&slice[..*len]);
                }
                if let Some(encoder) = &mut encoder {
                    encoder.reset(count, recovery, shard).map_err(rs_error)?;
                    for (slice, _) in &set {
                        encoder.add_original_shard(slice).map_err(rs_error)?;
                    }
                    let result = encoder.encode().map_err(rs_error)?;
                    for (j, shard) in result.recovery_iter().enumerate() {
                        repair_hashers[j].update(shard);
                        repair_files[j].write_all(shard).map_err(|e| {
                            Error::io(format!("writing {}", repair_names_ref[j]), e)
                        })?;
                    }
                }
                if give_back.send(set).is_err() {
                    break;
                }
            }
            for (out, file_name) in repair_files.iter_mut().zip(repair_names_ref) {
                out.flush()
                    .map_err(|e| Error::io(format!("writing {file_name}"), e))?;
            }
            Ok((data_hashers, repair_hashers))
        });
        let mut cut = || -> Result<(), Error> {
            for k in 0..options.part_size.div_ceil(stripe) {
                let Ok(mut set) = recycled.recv() else {
                    return Ok(()); // the worker stopped; its error is reported below
                };
                for (i, (slice, len)) in set.iter_mut().enumerate() {
                    let start = k * stripe;
                    *len =
                        usize::try_from(lengths[i].saturating_sub(start).min(stripe)).unwrap_or(0);
                    slice.fill(0);
                    if *len > 0 {
                        file.read_exact_at(
                            &mut slice[..*len],
                            i as u64 * options.part_size + start,
                        )
                        .map_err(io("reading the bundle".into()))?;
                        data_files[i]
                            .write_all(&slice[..*len])
                            .map_err(io(format!("writing {}", data_names[i])))?;
                        progress.advance(*len as u64);
                    }
                }
                if to_worker.send(set).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        };
        let cut_result = cut();
        drop(to_worker);
        let worked = worker.join().map_err(|_| {
            Error::io(
                "computing repair parts",
                std::io::Error::other("the worker thread failed"),
            )
        })?;
        cut_result?;
        worked
    })?;
    progress.finish();
    // Flushed, not fsynced: join checks every part against its signed sha256 anyway.
    for (out, file_name) in data_files.iter_mut().zip(&data_names) {
        out.flush().map_err(io(format!("writing {file_name}")))?;
    }
    let entries = |names: Vec<String>, hashers: Vec<Hasher>| -> Vec<PartEntry> {
        names
            .into_iter()
            .zip(hashers)
            .map(|(file, hasher)| {
                let (sha256, size) = hasher.finish();
                PartEntry { file, sha256, size }
            })
            .collect()
    };
    let checked = whole.join().unwrap_or_else(|_| {
        Err(Error::io(
            "hashing the bundle",
            std::io::Error::other("the hashing thread failed"),
        ))
    });
    let (bundle_sha256, hashed) = match checked {
        Ok(hashed) => hashed,
        Err(e) => {
            // No part of a bundle that does not verify is left behind.
            for file_name in data_names.iter().chain(&repair_names) {
                let _ = std::fs::remove_file(out_dir.join(file_name));
            }
            return Err(e);
        }
    };
    if hashed != bundle_size {
        return Err(Error::io(
            "reading the bundle",
            std::io::Error::other("it changed while being split"),
        ));
    }
    let manifest = PartsManifest {
        format_version: PARTS_FORMAT_VERSION,
        bundle_id,
        bundle_name: name.clone(),
        bundle_version: version.clone(),
        bundle_sha256,
        bundle_size,
        part_size: options.part_size,
        parts: entries(data_names, data_hashers),
        repair: RepairParameters {
            algorithm: REPAIR_ALGORITHM.into(),
            stripe_bytes: stripe,
            parts: entries(repair_names, repair_hashers),
        },
        trust_roots,
    };
    let envelope = manifest.sign(key)?;
    for copy in PartsManifest::copy_names(&name, &version) {
        let path = out_dir.join(copy);
        std::fs::write(&path, &envelope).map_err(io(format!("writing {}", path.display())))?;
    }
    Ok(manifest)
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

/// Read the bundle at `path` once: verify it (a bad signature or any damaged entry is an
/// error) and take the sha256 of its bytes.
fn verify_and_hash(
    path: &Path,
    trusted: &Trust,
    adopt_unsigned: bool,
) -> Result<(Digest, u64), Error> {
    let file = File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let hasher = std::rc::Rc::new(std::cell::RefCell::new(Hasher::default()));
    let tee = Tee {
        inner: BufReader::with_capacity(1 << 20, file),
        hasher: hasher.clone(),
    };
    let reader = BundleReader::open(tee, &SignaturePolicy::Report(trusted.clone()))?;
    match reader.signature() {
        SignatureCheck::Unsigned if adopt_unsigned => {}
        current => SignaturePolicy::Require(trusted.clone()).judge(current)?,
    }
    reader.finish()?;
    let hasher = hasher.borrow().clone();
    Ok(hasher.finish())
}

/// A reader that hashes what passes through it into a hasher it shares.
struct Tee<R> {
    inner: R,
    hasher: std::rc::Rc<std::cell::RefCell<Hasher>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}
