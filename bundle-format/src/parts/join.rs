//! Join verified parts into the bundle, in any order, rebuilding missing data parts from repair
//! parts stripe by stripe. Every part used was checked against the signed parts manifest; every
//! rebuilt part is checked against its signed sha256 before the join succeeds.

use std::fs::File;
use std::io::{BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use reed_solomon_simd::ReedSolomonDecoder;

use super::split::read_stripe;
use super::status::{PartState, PartsStatus, parts_error, scan};
use crate::digest::Hasher;
use crate::error::Error;
use crate::progress::Progress;
use crate::signing::Trust;

#[derive(Debug, Clone)]
pub struct JoinReport {
    pub status: PartsStatus,
    /// Data parts rebuilt from repair parts (1-based).
    pub rebuilt: Vec<usize>,
}

/// Join the parts in `dir` into `out` (a new, empty file).
pub fn join(dir: &Path, out: &File, trusted: &Trust) -> Result<JoinReport, Error> {
    let status = scan(dir, trusted)?;
    if let Some(need) = status.need_text() {
        return Err(parts_error(
            dir,
            format!(
                "{} of {} data parts are missing or damaged and repair cannot cover it yet: {need}; bring those across, then join again",
                status.missing_data().len(),
                status.data.len()
            ),
        ));
    }
    let manifest = &status.manifest;
    let io = |what: String| move |e: std::io::Error| Error::io(what.clone(), e);
    out.set_len(manifest.bundle_size)
        .map_err(io("sizing the output".into()))?;
    let mut progress = Progress::start("join", manifest.bundle_size);
    let mut buffer = vec![0u8; 1 << 20];
    for (index, state) in status.data.iter().enumerate() {
        let PartState::Valid { path } = state else {
            continue;
        };
        let mut source =
            BufReader::new(File::open(path).map_err(io(format!("reading {}", path.display())))?);
        let mut offset = index as u64 * manifest.part_size;
        loop {
            let n = std::io::Read::read(&mut source, &mut buffer)
                .map_err(io(format!("reading {}", path.display())))?;
            if n == 0 {
                break;
            }
            out.write_all_at(&buffer[..n], offset)
                .map_err(io("writing the bundle".into()))?;
            offset += n as u64;
            progress.advance(n as u64);
        }
    }
    let rebuilt = status.missing_data();
    if !rebuilt.is_empty() {
        let part_size = manifest.part_size;
        rebuild(
            &status,
            &rebuilt,
            &mut progress,
            &mut |index, offset, bytes| {
                out.write_all_at(bytes, (index as u64 - 1) * part_size + offset)
            },
        )?;
    }
    (&*out).flush().map_err(io("writing the bundle".into()))?;
    out.sync_all().map_err(io("writing the bundle".into()))?;
    progress.finish();
    Ok(JoinReport { status, rebuilt })
}

/// Where rebuilt stripes go: `(part, offset in the part, bytes)`.
pub(super) type StripeSink<'a> = dyn FnMut(usize, u64, &[u8]) -> std::io::Result<()> + 'a;

/// Rebuild the `missing` data parts (1-based) stripe by stripe, handing each rebuilt stripe to
/// `write(part, offset_in_part, bytes)`, and check every rebuilt part against its signed sha256.
pub(super) fn rebuild(
    status: &PartsStatus,
    missing: &[usize],
    progress: &mut Progress,
    write: &mut StripeSink<'_>,
) -> Result<(), Error> {
    let manifest = &status.manifest;
    let io = |what: &str| {
        let what = what.to_owned();
        move |e: std::io::Error| Error::io(what.clone(), e)
    };
    let rs_error = |e: reed_solomon_simd::Error| {
        Error::io(
            "rebuilding missing parts",
            std::io::Error::other(e.to_string()),
        )
    };
    let open = |states: &[PartState]| -> Result<Vec<Option<File>>, Error> {
        states
            .iter()
            .map(|s| match s {
                PartState::Valid { path } => {
                    File::open(path).map(Some).map_err(io("reading a part"))
                }
                _ => Ok(None),
            })
            .collect()
    };
    let data = open(&status.data)?;
    let repair = open(&status.repair)?;
    let stripe = manifest.repair.stripe_bytes;
    let shard = usize::try_from(stripe).unwrap_or(0);
    let (originals, recoveries) = (status.data.len(), status.repair.len());
    let mut decoder = ReedSolomonDecoder::new(originals, recoveries, shard).map_err(rs_error)?;
    let mut slice = vec![0u8; shard];
    let mut hashers = vec![Hasher::default(); missing.len()];
    for k in 0..manifest.part_size.div_ceil(stripe) {
        decoder
            .reset(originals, recoveries, shard)
            .map_err(rs_error)?;
        for (i, file) in data.iter().enumerate() {
            if let Some(file) = file {
                read_stripe(file, manifest.parts[i].size, k * stripe, &mut slice)
                    .map_err(io("reading a part"))?;
                decoder.add_original_shard(i, &slice).map_err(rs_error)?;
            }
        }
        for (j, file) in repair.iter().enumerate() {
            if let Some(file) = file {
                read_stripe(file, manifest.repair.parts[j].size, k * stripe, &mut slice)
                    .map_err(io("reading a repair part"))?;
                decoder.add_recovery_shard(j, &slice).map_err(rs_error)?;
            }
        }
        let result = decoder.decode().map_err(rs_error)?;
        for (m, &index) in missing.iter().enumerate() {
            let part = &manifest.parts[index - 1];
            let start = k * stripe;
            if start >= part.size {
                continue;
            }
            let restored = result.restored_original(index - 1).ok_or_else(|| {
                rs_error(reed_solomon_simd::Error::NotEnoughShards {
                    original_count: originals,
                    original_received_count: 0,
                    recovery_received_count: 0,
                })
            })?;
            let len = usize::try_from((part.size - start).min(stripe)).unwrap_or(0);
            hashers[m].update(&restored[..len]);
            write(index, start, &restored[..len]).map_err(io("writing a rebuilt part"))?;
            progress.advance(len as u64);
        }
    }
    for (hasher, &index) in hashers.into_iter().zip(missing) {
        let part = &manifest.parts[index - 1];
        let (digest, size) = hasher.finish();
        if digest != part.sha256 || size != part.size {
            return Err(parts_error(
                Path::new(&part.file),
                format!(
                    "part {index} was rebuilt from repair parts but does not match its signed sha256: a repair part is damaged in a way its hash did not show"
                ),
            ));
        }
    }
    Ok(())
}
