//! A bundle whose index is completed after the blobs (§4.6): what the writer accepts and
//! refuses, and that readers and stock tools read the result as any other bundle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Cursor, Read};

use bundle_format::error::WriteProblem;
use bundle_format::index::{ImageArtifact, IndexError};
use bundle_format::layout;
use bundle_format::{
    BlobDescriptor, BundleIndex, BundleReader, BundleWriter, Digest, Error, SignaturePolicy,
    SigningKey, TrustedKey, WriterOptions, generate_key,
};

const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCUMENT: &str = "application/spdx+json";

fn keys() -> (SigningKey, TrustedKey) {
    let generated = generate_key(None).unwrap();
    (
        SigningKey::open(&generated.secret_file, None, "test key").unwrap(),
        TrustedKey::parse(&generated.public_file, "test key").unwrap(),
    )
}

fn layer() -> Vec<u8> {
    let mut gz = vec![0x1f, 0x8b, 8, 0];
    gz.extend((0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    gz
}

fn manifest() -> Vec<u8> {
    b"{\"schemaVersion\":2}".to_vec()
}

fn descriptor(digest: Digest, size: u64, media_type: &str) -> BlobDescriptor {
    BlobDescriptor {
        digest,
        size,
        media_type: media_type.into(),
    }
}

/// An image of a layer and a manifest, then `late`: the blobs made while those are written.
fn index_with(late: &[BlobDescriptor]) -> BundleIndex {
    let (layer, manifest) = (layer(), manifest());
    let mut blobs = vec![
        descriptor(Digest::of(&layer), layer.len() as u64, LAYER),
        descriptor(
            Digest::of(&manifest),
            manifest.len() as u64,
            "application/vnd.oci.image.manifest.v1+json",
        ),
    ];
    blobs.extend_from_slice(late);
    let mut index: BundleIndex = serde_json::from_value(serde_json::json!({
        "formatVersion": 1, "name": "draft", "version": "1", "platforms": ["linux/amd64"],
        "images": [], "charts": [], "files": [],
        "layout": serde_json::to_value(layout::unsealed()).unwrap(),
        "blobs": [],
    }))
    .unwrap();
    index.images.push(ImageArtifact {
        reference: "docker.io/library/t:1".into(),
        digest: blobs[1].digest,
        media_type: blobs[1].media_type.clone(),
        platforms: vec![bundle_format::Platform::linux_amd64()],
        source: "test".into(),
        source_digest: None,
        blobs: blobs.iter().map(|b| b.digest).collect(),
        related: Vec::new(),
    });
    index.blobs = blobs;
    index
}

fn stand_in(number: u32) -> BlobDescriptor {
    descriptor(
        Digest::of(format!("stand-in {number}").as_bytes()),
        999_999_999_999,
        DOCUMENT,
    )
}

/// Starts a draft with one stand-in and writes the two known blobs.
fn started(signer: Option<&SigningKey>) -> BundleWriter<Cursor<Vec<u8>>> {
    let mut writer = BundleWriter::new_draft(
        Cursor::new(Vec::new()),
        index_with(&[stand_in(1)]),
        1,
        signer,
        WriterOptions::default(),
    )
    .unwrap();
    for data in [layer(), manifest()] {
        assert!(writer.add_blob(&Digest::of(&data), &mut &data[..]).unwrap());
    }
    writer
}

#[test]
fn a_completed_draft_reads_back_as_any_bundle_signed_over_the_completed_index() {
    let (signer, trusted) = keys();
    let mut writer = started(Some(&signer));
    let stand_in = stand_in(1);
    let refused = writer.add_blob(&stand_in.digest, &mut std::io::empty());
    assert!(
        matches!(refused, Err(Error::Write(WriteProblem::Placeholder(d))) if d == stand_in.digest),
        "{refused:?}"
    );
    let document = br#"{"spdxVersion":"SPDX-2.3"}"#.to_vec();
    let late = descriptor(Digest::of(&document), document.len() as u64, DOCUMENT);
    writer
        .complete(index_with(std::slice::from_ref(&late)), Some(&signer))
        .unwrap();
    writer.add_blob(&late.digest, &mut &document[..]).unwrap();
    let (out, summary) = writer.finish().unwrap();
    let bytes = out.into_inner();

    let policy = SignaturePolicy::Require(vec![trusted].into());
    let mut reader = BundleReader::open(&bytes[..], &policy).unwrap();
    let index = reader.index().clone();
    assert_eq!(index.bundle_id(), summary.bundle_id);
    assert_eq!(index.format_version, bundle_format::PADDED_FORMAT_VERSION);
    let padding = index.padding.clone().unwrap();
    assert!(!padding.is_empty() && padding.bytes().all(|b| b == b' '));
    assert_eq!(
        index.blobs.iter().map(|b| b.digest).collect::<Vec<_>>(),
        vec![Digest::of(&layer()), Digest::of(&manifest()), late.digest]
    );
    let mut read = Vec::new();
    while let Some(mut blob) = reader.next_blob().unwrap() {
        let mut data = Vec::new();
        blob.read_to_end(&mut data).unwrap();
        blob.finish().unwrap();
        read.push(data);
    }
    assert_eq!(read, vec![layer(), manifest(), document]);
    let report = reader.finish().unwrap();
    assert_eq!(report.bundle_bytes, bytes.len() as u64);

    // Stock zstd and tar see the completed index, not the draft.
    let tar_bytes = zstd::decode_all(&bytes[..]).unwrap();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut first = archive.entries().unwrap().next().unwrap().unwrap();
    let mut text = Vec::new();
    first.read_to_end(&mut text).unwrap();
    assert_eq!(Digest::of(&text), summary.bundle_id);
}

#[test]
fn an_unsigned_draft_completes_too() {
    let mut writer = started(None);
    let document = b"{}".to_vec();
    let late = descriptor(Digest::of(&document), 2, DOCUMENT);
    writer
        .complete(index_with(std::slice::from_ref(&late)), None)
        .unwrap();
    writer.add_blob(&late.digest, &mut &document[..]).unwrap();
    let bytes = writer.finish().unwrap().0.into_inner();
    let reader = BundleReader::open(
        &bytes[..],
        &SignaturePolicy::AllowUnsigned(bundle_format::signing::Trust::none()),
    )
    .unwrap();
    assert_eq!(reader.index().blobs.len(), 3);
    reader.finish().unwrap();
}

#[test]
fn fewer_late_blobs_than_stand_ins_fit() {
    let mut writer = BundleWriter::new_draft(
        Cursor::new(Vec::new()),
        index_with(&[stand_in(1), stand_in(2), stand_in(3)]),
        3,
        None,
        WriterOptions::default(),
    )
    .unwrap();
    for data in [layer(), manifest()] {
        writer.add_blob(&Digest::of(&data), &mut &data[..]).unwrap();
    }
    writer.complete(index_with(&[]), None).unwrap();
    let bytes = writer.finish().unwrap().0.into_inner();
    let reader = BundleReader::open(
        &bytes[..],
        &SignaturePolicy::AllowUnsigned(bundle_format::signing::Trust::none()),
    )
    .unwrap();
    assert_eq!(reader.index().blobs.len(), 2);
    reader.finish().unwrap();
}

fn completion_error(result: Result<(), Error>) -> String {
    match result {
        Err(Error::Write(WriteProblem::Completion(why))) => why,
        other => panic!("expected a completion error, got {other:?}"),
    }
}

#[test]
fn an_index_longer_than_its_draft_is_refused() {
    let mut writer = started(None);
    let longer = [
        descriptor(Digest::of(b"a"), 1, DOCUMENT),
        descriptor(Digest::of(b"b"), 1, DOCUMENT),
    ];
    let why = completion_error(writer.complete(index_with(&longer), None));
    assert!(why.contains("longer than"), "{why}");
}

#[test]
fn an_index_that_moves_a_written_blob_is_refused() {
    let mut writer = started(None);
    let mut moved = index_with(&[]);
    moved.blobs.swap(0, 1);
    let why = completion_error(writer.complete(moved, None));
    assert!(why.contains("written so far"), "{why}");
}

#[test]
fn an_index_that_changes_the_layout_is_refused() {
    let mut writer = started(None);
    let mut renamed = index_with(&[]);
    renamed.images[0].reference = "docker.io/library/other:1".into();
    let why = completion_error(writer.complete(renamed, None));
    assert!(why.contains("index.json"), "{why}");
}

#[test]
fn a_draft_never_completed_is_not_finished() {
    let writer = started(None);
    assert!(writer.finish().is_err());
}

#[test]
fn padding_holds_spaces_only() {
    let mut index = index_with(&[]);
    index.layout = layout::unsealed();
    layout::seal(&mut index);
    index.padding = Some(" \t ".into());
    index.format_version = index.lowest_format_version();
    assert!(matches!(
        index.validate(),
        Err(IndexError::BadField {
            field: "padding",
            ..
        })
    ));
    index.padding = Some("   ".into());
    index.validate().unwrap();
}

#[test]
fn an_index_larger_than_readers_accept_is_not_written() {
    let mut index = index_with(&[]);
    index.images[0].source = " ".repeat(65 << 20);
    let refused = BundleWriter::new(Vec::new(), index, None, WriterOptions::default());
    assert!(
        matches!(
            refused,
            Err(Error::Write(WriteProblem::IndexTooLarge { limit, .. }))
                if limit == bundle_format::limits::MAX_INDEX_BYTES
        ),
        "{refused:?}"
    );
}
