//! Writer -> reader round trips and tampering, at the library level.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;

use bundle_format::index::ImageArtifact;
use bundle_format::layout;
use bundle_format::{
    BlobDescriptor, BundleIndex, BundleReader, BundleWriter, Category, Corruption, Digest, Error,
    SignaturePolicy, SigningKey, TrustedKey, WriterOptions, generate_key,
};

fn keys() -> (SigningKey, TrustedKey) {
    let generated = generate_key(None).unwrap_or_else(|e| panic!("{e}"));
    let signer = SigningKey::open(&generated.secret_file, None, "test key");
    let trusted = TrustedKey::parse(&generated.public_file, "test key");
    match (signer, trusted) {
        (Ok(s), Ok(t)) => (s, t),
        _ => panic!("generated keys must open"),
    }
}

fn blobs() -> Vec<(Vec<u8>, &'static str)> {
    let mut gz = vec![0x1f, 0x8b, 8, 0];
    gz.extend((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    vec![
        (gz, "application/vnd.oci.image.layer.v1.tar+gzip"),
        (
            b"{\"architecture\":\"amd64\",\"os\":\"linux\"}".to_vec(),
            "application/vnd.oci.image.config.v1+json",
        ),
        (
            b"{\"schemaVersion\":2}".to_vec(),
            "application/vnd.oci.image.manifest.v1+json",
        ),
    ]
}

fn index_for(blobs: &[(Vec<u8>, &str)]) -> BundleIndex {
    let descriptors: Vec<BlobDescriptor> = blobs
        .iter()
        .map(|(data, media)| BlobDescriptor {
            digest: Digest::of(data),
            size: data.len() as u64,
            media_type: (*media).into(),
        })
        .collect();
    BundleIndex {
        format_version: bundle_format::FORMAT_VERSION,
        name: "t".into(),
        version: "1".into(),
        platforms: vec![bundle_format::Platform::linux_amd64()],
        images: vec![ImageArtifact {
            reference: "docker.io/library/t:1".into(),
            digest: descriptors[2].digest,
            media_type: descriptors[2].media_type.clone(),
            platforms: vec![bundle_format::Platform::linux_amd64()],
            source: "test".into(),
            source_digest: None,
            blobs: descriptors.iter().map(|d| d.digest).collect(),
            related: Vec::new(),
        }],
        charts: vec![],
        files: vec![],
        layout: layout::unsealed(),
        base: None,
        blobs: descriptors,
        expires: None,
        packages: None,
        trust_roots: Vec::new(),
        padding: None,
        lookup: Default::default(),
    }
}

fn write_bundle(signer: Option<&SigningKey>) -> Vec<u8> {
    let blobs = blobs();
    let mut writer = BundleWriter::new(
        Vec::new(),
        index_for(&blobs),
        signer,
        WriterOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for (data, _) in &blobs {
        assert!(
            writer
                .add_blob(&Digest::of(data), &mut &data[..])
                .unwrap_or_else(|e| panic!("{e}"))
        );
        // a second add of the same digest is deduplicated without reading
        assert!(
            !writer
                .add_blob(&Digest::of(data), &mut std::io::empty())
                .unwrap_or(true)
        );
    }
    writer.finish().unwrap_or_else(|e| panic!("{e}")).0
}

fn verify(bytes: &[u8], trusted: &TrustedKey) -> Result<(), Error> {
    let policy = SignaturePolicy::Require(vec![trusted.clone()].into());
    BundleReader::open(bytes, &policy)?.finish().map(|_| ())
}

#[test]
fn round_trip_streams_every_blob_back() {
    let (signer, trusted) = keys();
    let bytes = write_bundle(Some(&signer));
    let policy = SignaturePolicy::Require(vec![trusted].into());
    let mut reader = BundleReader::open(&bytes[..], &policy).unwrap_or_else(|e| panic!("{e}"));
    let expected = blobs();
    let mut i = 0;
    while let Some(mut blob) = reader.next_blob().unwrap_or_else(|e| panic!("{e}")) {
        let mut data = Vec::new();
        blob.read_to_end(&mut data)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data, expected[i].0);
        blob.finish().unwrap_or_else(|e| panic!("{e}"));
        i += 1;
    }
    assert_eq!(i, 3);
    let report = reader.finish().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.bundle_bytes, bytes.len() as u64);
    // and stock zstd + tar see an ordinary archive with the blob paths
    let tar_bytes = zstd::decode_all(&bytes[..]).unwrap_or_default();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let names: Vec<String> = archive
        .entries()
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    e.path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        &names[..4],
        [
            "ferry-index.json",
            "ferry-index.json.minisig",
            "oci-layout",
            "index.json"
        ]
    );
    assert_eq!(names.len(), 7);
}

#[test]
fn unsigned_needs_opt_out_and_untrusted_is_refused() {
    let (signer, trusted) = keys();
    let unsigned = write_bundle(None);
    let err = verify(&unsigned, &trusted).err().map(|e| e.category());
    assert_eq!(err, Some(Category::Unsigned));
    let lenient = SignaturePolicy::AllowUnsigned(bundle_format::signing::Trust::none());
    assert!(
        BundleReader::open(&unsigned[..], &lenient)
            .and_then(|r| r.finish())
            .is_ok()
    );
    let (_, other) = keys();
    let signed = write_bundle(Some(&signer));
    let err = verify(&signed, &other).err().map(|e| e.category());
    assert_eq!(err, Some(Category::UntrustedKey));
}

#[test]
fn truncation_and_trailing_garbage_are_distinct() {
    let (signer, trusted) = keys();
    let bytes = write_bundle(Some(&signer));
    for cut in [bytes.len() - 1, bytes.len() - 40, bytes.len() / 2, 100] {
        let err = verify(&bytes[..cut], &trusted).err();
        assert!(
            matches!(
                err,
                Some(Error::Corrupt {
                    problem: Corruption::Truncated | Corruption::OffsetTable(_),
                    ..
                })
            ),
            "cut at {cut}: {err:?}"
        );
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"garbage");
    let err = verify(&longer, &trusted).err();
    assert!(
        matches!(
            err,
            Some(Error::Corrupt {
                problem: Corruption::TrailingGarbage(7),
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn every_single_byte_flip_is_rejected() {
    let (signer, trusted) = keys();
    let bytes = write_bundle(Some(&signer));
    let step = (bytes.len() / 400).max(1);
    for position in (0..bytes.len()).step_by(step) {
        let mut flipped = bytes.clone();
        flipped[position] ^= 0x40;
        assert!(
            verify(&flipped, &trusted).is_err(),
            "flip at {position} was accepted"
        );
    }
}

#[test]
fn blobs_are_found_by_digest_even_after_the_list_changed() {
    let blobs = blobs();
    let mut index = index_for(&blobs);
    for (data, _) in &blobs {
        assert_eq!(
            index.blob(&Digest::of(data)).unwrap().size,
            data.len() as u64
        );
    }
    let absent = Digest::of(b"absent");
    assert!(index.known_blob(&absent).is_none());
    // The lookup was made above; a blob added since is still found.
    index.blobs.push(BlobDescriptor {
        digest: absent,
        size: 6,
        media_type: "x".into(),
    });
    assert_eq!(index.blob(&absent).unwrap().size, 6);
    // Copies compare equal and find the same blobs.
    let copy = index.clone();
    assert_eq!(copy, index);
    assert!(copy.blob(&absent).is_some());
}

#[test]
fn package_entries_are_checked_before_anything_uses_them() {
    use bundle_format::{PackageArtifact, PackageFormat, PackageSet};
    let blobs = blobs();
    let mut index = index_for(&blobs);
    let digests: Vec<Digest> = index.blobs.iter().map(|b| b.digest).collect();
    let package = |name: &str, version: &str, pre: &[&str]| PackageArtifact {
        name: name.into(),
        version: version.into(),
        architecture: "amd64".into(),
        sha256: digests[0],
        size: 1,
        source: "http://x/pool/a.deb".into(),
        pre_depends: pre.iter().map(|s| (*s).to_owned()).collect(),
        reference: format!("packages/{name}:1"),
        digest: digests[1],
        blobs: digests.clone(),
    };
    let set = |packages: Vec<PackageArtifact>| PackageSet {
        format: PackageFormat::Deb,
        requested: vec!["jq".into()],
        baseline: vec![],
        repositories: vec![],
        packages,
    };
    index.packages = Some(set(vec![
        package("libjq1", "1.6-2", &[]),
        package("jq", "1.6-2", &["libjq1"]),
    ]));
    // The lowest version that can express it is 4, and only 4 is accepted.
    assert!(index.validate().is_err(), "version 1 with packages");
    index.format_version = index.lowest_format_version();
    assert_eq!(index.format_version, bundle_format::PACKAGES_FORMAT_VERSION);
    index.validate().unwrap();
    let round = BundleIndex::from_json(&index.to_json()).unwrap();
    assert_eq!(round.package_list().len(), 2);
    let refused = |packages: Vec<PackageArtifact>| {
        let mut bad = index.clone();
        bad.packages = Some(set(packages));
        bad.validate().unwrap_err().to_string()
    };
    assert!(refused(vec![package("jq;reboot", "1", &[])]).contains("package name"));
    assert!(refused(vec![package("jq", "1 && x", &[])]).contains("package version"));
    assert!(refused(vec![package("jq", "1", &[]), package("jq", "2", &[])]).contains("once"));
    assert!(refused(vec![package("jq", "1", &["libjq1"])]).contains("preDepends"));
    let mut dangling = package("jq", "1", &[]);
    dangling.sha256 = Digest::of(b"not in the bundle");
    assert!(refused(vec![dangling]).contains("does not list"));
    let mut arch = package("jq", "1", &[]);
    arch.architecture = "amd64 x".into();
    assert!(refused(vec![arch]).contains("architecture"));
}

#[test]
fn what_an_image_carries_is_checked_before_anything_uses_it() {
    use bundle_format::{RelatedArtifact, RelatedKind};
    let blobs = blobs();
    let mut index = index_for(&blobs);
    let digests: Vec<Digest> = index.blobs.iter().map(|b| b.digest).collect();
    let subject = index.images[0].digest;
    let signature = RelatedArtifact {
        kind: RelatedKind::Signature,
        subject,
        tag: Some(format!("sha256-{}.sig", subject.hex())),
        digest: digests[0],
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        artifact_type: None,
        blobs: vec![digests[0]],
        signatures: vec![],
        predicate_types: vec![],
        sbom_formats: vec![],
    };
    index.images[0].related = vec![signature.clone()];
    assert!(
        index.validate().is_err(),
        "version 1 with related artifacts"
    );
    index.format_version = index.lowest_format_version();
    assert_eq!(index.format_version, bundle_format::RELATED_FORMAT_VERSION);
    index.validate().unwrap();
    let round = BundleIndex::from_json(&index.to_json()).unwrap();
    assert_eq!(round.images[0].related, vec![signature.clone()]);
    let refused = |edit: &dyn Fn(&mut RelatedArtifact)| {
        let mut bad = index.clone();
        edit(&mut bad.images[0].related[0]);
        bad.validate().unwrap_err().to_string()
    };
    let elsewhere = Digest::of(b"another image");
    assert!(refused(&|r| r.subject = elsewhere).contains("names neither the image"));
    assert!(
        refused(&|r| r.tag = Some(format!("sha256-{}.sig", elsewhere.hex())))
            .contains("related tag")
    );
    assert!(refused(&|r| r.tag = Some("latest".into())).contains("related tag"));
    assert!(refused(&|r| r.blobs = vec![elsewhere]).contains("does not list"));
    let mut twice = index.clone();
    twice.images[0].related.push(signature);
    assert!(twice.validate().unwrap_err().to_string().contains("twice"));
}
