//! What a manifest attached to an image is: a cosign signature, an attestation, an SBOM, or
//! another referrer carried without interpretation; and the SBOM formats and predicate types it
//! shows on its face (layer media types, `artifactType`, cosign's `predicateType` annotation).

use bundle_format::RelatedKind;
use bundle_format::vocabulary::media_types::{
    COSIGN_SIMPLE_SIGNING, CYCLONEDX_JSON, CYCLONEDX_XML, DSSE_ENVELOPE, SPDX_JSON, SPDX_JSON_TEXT,
    SPDX_TAG_VALUE, SYFT_JSON,
};
use bundle_format::vocabulary::oci::ImageManifest;

use crate::cosign::PREDICATE_TYPE_ANNOTATION;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub kind: RelatedKind,
    pub predicate_types: Vec<String>,
    pub sbom_formats: Vec<String>,
}

/// The SBOM format a media type or artifact type names, if it names one.
pub fn sbom_format_of_media_type(media_type: &str) -> Option<&'static str> {
    let base = media_type.split(';').next().unwrap_or("").trim();
    match base {
        SPDX_JSON | SPDX_JSON_TEXT => Some("spdx-json"),
        SPDX_TAG_VALUE => Some("spdx"),
        CYCLONEDX_JSON => Some("cyclonedx-json"),
        CYCLONEDX_XML => Some("cyclonedx-xml"),
        SYFT_JSON => Some("syft-json"),
        _ => None,
    }
}

/// The SBOM format an in-toto predicate type names (`cosign attest --type spdxjson`, ...).
pub fn sbom_format_of_predicate(predicate_type: &str) -> Option<&'static str> {
    if predicate_type.starts_with("https://spdx.dev/Document") {
        Some("spdx-json")
    } else if predicate_type.starts_with("https://cyclonedx.org/bom") {
        Some("cyclonedx-json")
    } else if predicate_type.starts_with("https://syft.dev/bom") {
        Some("syft-json")
    } else {
        None
    }
}

pub fn classify(manifest: &ImageManifest) -> Classified {
    let layer_types: Vec<&str> = manifest
        .layers
        .iter()
        .map(|l| l.media_type.as_str())
        .collect();
    let mut predicate_types: Vec<String> = manifest
        .layers
        .iter()
        .filter_map(|l| l.annotations.get(PREDICATE_TYPE_ANNOTATION).cloned())
        .collect();
    predicate_types.sort();
    predicate_types.dedup();
    let mut sbom_formats: Vec<String> = layer_types
        .iter()
        .copied()
        .chain(std::iter::once(manifest.effective_artifact_type()))
        .filter_map(sbom_format_of_media_type)
        .chain(
            predicate_types
                .iter()
                .filter_map(|p| sbom_format_of_predicate(p)),
        )
        .map(str::to_owned)
        .collect();
    sbom_formats.sort();
    sbom_formats.dedup();
    let kind = if layer_types.contains(&COSIGN_SIMPLE_SIGNING) {
        RelatedKind::Signature
    } else if layer_types.contains(&DSSE_ENVELOPE) {
        RelatedKind::Attestation
    } else if !sbom_formats.is_empty() {
        RelatedKind::Sbom
    } else {
        RelatedKind::Artifact
    };
    Classified {
        kind,
        predicate_types,
        sbom_formats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bundle_format::Digest;

    fn manifest(
        artifact_type: Option<&str>,
        layer: &str,
        predicate: Option<&str>,
    ) -> ImageManifest {
        let mut layer_json = serde_json::json!({
            "mediaType": layer, "digest": Digest::of(b"l").to_string(), "size": 1});
        if let Some(p) = predicate {
            layer_json["annotations"] = serde_json::json!({PREDICATE_TYPE_ANNOTATION: p});
        }
        let mut doc = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                       "digest": Digest::of(b"{}").to_string(), "size": 2},
            "layers": [layer_json],
        });
        if let Some(t) = artifact_type {
            doc["artifactType"] = serde_json::json!(t);
        }
        serde_json::from_value(doc).unwrap()
    }

    #[test]
    fn signatures_attestations_sboms_and_other_referrers_are_told_apart() {
        assert_eq!(
            classify(&manifest(None, COSIGN_SIMPLE_SIGNING, None)).kind,
            RelatedKind::Signature
        );
        let att = classify(&manifest(
            None,
            DSSE_ENVELOPE,
            Some("https://spdx.dev/Document"),
        ));
        assert_eq!(att.kind, RelatedKind::Attestation);
        assert_eq!(att.predicate_types, vec!["https://spdx.dev/Document"]);
        assert_eq!(att.sbom_formats, vec!["spdx-json"]);
        let sbom = classify(&manifest(Some(CYCLONEDX_JSON), "application/json", None));
        assert_eq!(sbom.kind, RelatedKind::Sbom);
        assert_eq!(sbom.sbom_formats, vec!["cyclonedx-json"]);
        assert_eq!(
            classify(&manifest(
                Some("application/vnd.example.report"),
                "text/plain",
                None
            ))
            .kind,
            RelatedKind::Artifact
        );
    }
}
