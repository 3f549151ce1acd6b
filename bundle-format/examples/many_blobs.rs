//! Writes a signed bundle of N tiny blobs (one image that needs them all), for measuring how
//! verify, join, push and install scale with the number of blobs (docs/performance.md):
//!
//!     cargo run --release -p bundle-format --example many_blobs -- 100000 OUT.tar.zst KEY_PREFIX
//!
//! writes OUT.tar.zst and KEY_PREFIX.pub (the key that signed it).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

use bundle_format::index::ImageArtifact;
use bundle_format::{
    BlobDescriptor, BundleIndex, BundleWriter, Digest, Platform, SigningKey, WriterOptions,
    generate_key, layout,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(count), Some(out), Some(key)) = (
        args.get(1).and_then(|n| n.parse::<u32>().ok()),
        args.get(2),
        args.get(3),
    ) else {
        eprintln!("usage: many_blobs COUNT OUT.tar.zst KEY_PREFIX");
        return ExitCode::from(2);
    };
    match run(count, out, key) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("many_blobs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(count: u32, out: &str, key: &str) -> Result<(), Box<dyn std::error::Error>> {
    let generated = generate_key(None)?;
    std::fs::write(format!("{key}.pub"), &generated.public_file)?;
    let signer = SigningKey::open(&generated.secret_file, None, "many_blobs")?;
    let content = |i: u32| format!("blob {i}\n").into_bytes();
    let blobs: Vec<BlobDescriptor> = (0..count)
        .map(|i| BlobDescriptor {
            digest: Digest::of(&content(i)),
            size: content(i).len() as u64,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        })
        .collect();
    let index = BundleIndex {
        format_version: bundle_format::FORMAT_VERSION,
        name: "many".into(),
        version: count.to_string(),
        platforms: vec![Platform::linux_amd64()],
        images: vec![ImageArtifact {
            reference: "docker.io/library/many:1".into(),
            digest: blobs[0].digest,
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            platforms: vec![Platform::linux_amd64()],
            source: "many_blobs".into(),
            source_digest: None,
            blobs: blobs.iter().map(|b| b.digest).collect(),
            related: Vec::new(),
        }],
        charts: vec![],
        files: vec![],
        layout: layout::unsealed(),
        blobs,
        base: None,
        expires: None,
        packages: None,
        trust_roots: Vec::new(),
        padding: None,
        lookup: Default::default(),
    };
    let file = BufWriter::with_capacity(1 << 20, File::create(out)?);
    let mut writer = BundleWriter::new(file, index, Some(&signer), WriterOptions::default())?;
    for i in 0..count {
        let data = content(i);
        writer.add_blob(&Digest::of(&data), &mut &data[..])?;
    }
    writer.finish()?;
    println!("{out}: {count} blobs");
    Ok(())
}
