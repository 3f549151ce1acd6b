//! Helm's provenance file (`<chart>.tgz.prov`) for a chart from a classic repository, checked
//! as `helm --verify` checks it: an OpenPGP clear-signed document, signed by a key of the given
//! keyring, whose `files:` section gives the sha256 of the chart archive under its file name.
//! The archive must have exactly that digest. The file then travels with the chart.

use std::collections::BTreeMap;

use bundle_format::Digest;
use serde::Deserialize;

use crate::error::ExportError;
use crate::packages::signature::Keyring;
use crate::remote::download::fetch_document_if_published;

/// A provenance file is Chart.yaml and one line per file: a few KiB.
const MAX_PROVENANCE_BYTES: u64 = 1 << 20;

/// A verified provenance file.
#[derive(Debug, Clone)]
pub struct ChartProvenance {
    /// The file as published, byte for byte.
    pub bytes: Vec<u8>,
    /// The fingerprint of the key that signed it.
    pub signer: String,
}

#[derive(Deserialize)]
struct Sums {
    files: BTreeMap<String, String>,
}

/// `archive` is the digest of the downloaded archive (the cache computed it as it arrived).
pub async fn fetch_and_verify(
    http: &reqwest::Client,
    chart_url: &str,
    archive: &Digest,
    keyring: &Keyring,
    artifact: &str,
) -> Result<ChartProvenance, ExportError> {
    let url = format!("{chart_url}.prov");
    let refuse = |cause: String| {
        ExportError::source(
            artifact,
            cause,
            "the chart is not what its signer published: check the repository, or remove \
             `keyring:` to take it unverified",
        )
    };
    let bytes = fetch_document_if_published(http, &url, MAX_PROVENANCE_BYTES, artifact)
        .await?
        .ok_or_else(|| {
            ExportError::source(
                artifact,
                format!("the repository publishes no provenance file ({url})"),
                "remove `keyring:` to take the chart unverified, or ask its publisher to sign it \
                 (helm package --sign)",
            )
        })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| refuse(format!("{url} is not text")))?;
    let (signed, signer) = keyring
        .verify_clearsigned(text)
        .map_err(|why| refuse(format!("{url}: {why}")))?;
    let sums = signed_sums(&signed).map_err(|why| refuse(format!("{url}: {why}")))?;
    let name = chart_url
        .rsplit('/')
        .next()
        .unwrap_or(chart_url)
        .split('?')
        .next()
        .unwrap_or_default();
    let listed = sums.files.get(name).ok_or_else(|| {
        refuse(format!(
            "{url} lists no sum for {name} (it lists: {})",
            sums.files.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })?;
    if listed.trim() != archive.to_string() {
        return Err(refuse(format!(
            "{url} signs {listed} for {name}, and the archive is {archive}"
        )));
    }
    Ok(ChartProvenance { bytes, signer })
}

/// The `files:` section after Chart.yaml: helm separates the two YAML documents with `...`.
fn signed_sums(signed: &str) -> Result<Sums, String> {
    let (_, sums) = signed
        .split_once("\n...\n")
        .ok_or("its signed text has no `...` line before the file sums")?;
    serde_saphyr::from_str(sums).map_err(|e| format!("its file sums are not YAML: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sums_follow_the_chart_yaml() {
        let signed = "apiVersion: v2\nname: web\nversion: 1.0.0\n\n...\nfiles:\n  web-1.0.0.tgz: sha256:abc\n";
        let sums = signed_sums(signed).unwrap();
        assert_eq!(sums.files["web-1.0.0.tgz"], "sha256:abc");
        assert!(signed_sums("name: web\nfiles:\n  a: b\n").is_err());
    }
}
