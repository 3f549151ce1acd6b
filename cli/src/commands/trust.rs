//! `ferry trust`: make, edit, sign and show trust roots (bundle_format::trust_root).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use bundle_format::trust_root::{MAX_ROOT_BYTES, RoleName, RootFile, RootSigned, TrustRoot};
use serde_json::json;

use crate::args::{
    TrustAddKeyArgs, TrustEditTarget, TrustExpiresArgs, TrustInitArgs, TrustRemoveKeyArgs,
    TrustRole, TrustShowArgs, TrustSignArgs, TrustThresholdArgs,
};
use crate::keys;
use crate::render::{AtomicFile, line, print_json};

fn role(role: TrustRole) -> RoleName {
    match role {
        TrustRole::Root => RoleName::Root,
        TrustRole::Bundle => RoleName::Bundle,
    }
}

fn expiry(when: &str) -> Result<time::OffsetDateTime> {
    bundle_format::expiry::parse_expiry(when, time::OffsetDateTime::now_utc())
        .with_context(|| format!("expiry `{when}`"))
}

fn read(path: &Path) -> Result<RootFile> {
    let bytes = bundle_format::bounded::read_regular(path, MAX_ROOT_BYTES)
        .with_context(|| format!("cannot read the trust root {}", path.display()))?;
    RootFile::parse(&bytes).with_context(|| format!("trust root {}", path.display()))
}

fn write(path: &Path, root: &RootFile) -> Result<()> {
    let output = AtomicFile::create(path)?;
    let mut writer = output.writer();
    writer
        .write_all(&root.to_json())
        .and_then(|()| writer.flush())
        .with_context(|| format!("cannot write {}", path.display()))?;
    drop(writer);
    output.commit()
}

pub fn init(args: &TrustInitArgs) -> Result<ExitCode> {
    if args.root.exists() && !args.force {
        bail!(
            "{} already exists; pass --force to overwrite it, or edit it with `ferry trust add-key`",
            args.root.display()
        );
    }
    let mut signed = RootSigned::new(expiry(&args.expires)?);
    for path in &args.root_keys {
        signed.add_key(RoleName::Root, &keys::read_public_key(path)?);
    }
    for path in &args.bundle_keys {
        signed.add_key(RoleName::Bundle, &keys::read_public_key(path)?);
    }
    signed.set_threshold(RoleName::Root, args.root_threshold);
    signed.set_threshold(RoleName::Bundle, args.bundle_threshold);
    save_edit(&args.root, signed)
}

/// Apply `change` to the root in `target` and write it, unsigned. A signed root is never
/// changed in place: its edit is the next version, written beside it.
fn edit(
    target: &TrustEditTarget,
    change: impl FnOnce(&mut RootSigned) -> Result<()>,
) -> Result<ExitCode> {
    let file = read(&target.root)?;
    let mut signed = file.signed.clone();
    let output = target.output.as_deref().unwrap_or(&target.root);
    if !file.signatures.is_empty() {
        if output == target.root {
            bail!(
                "{} is version {}, and signed: its edit is version {}, which needs a file of its own (-o NEW); version {} stays as it is, since a far side holding an older version needs every version in turn",
                target.root.display(),
                signed.version,
                signed.version + 1,
                signed.version
            );
        }
        signed.version += 1;
    }
    change(&mut signed)?;
    save_edit(output, signed)
}

fn save_edit(path: &Path, signed: RootSigned) -> Result<ExitCode> {
    signed
        .validate()
        .map_err(|problem| anyhow::anyhow!("the trust root would not be valid: {problem}"))?;
    let (_, root_threshold) = signed
        .role_keys(RoleName::Root)
        .map_err(anyhow::Error::msg)?;
    let version = signed.version;
    write(
        path,
        &RootFile {
            signatures: Vec::new(),
            signed,
        },
    )?;
    let previous = if version > 1 {
        format!(" and by enough root keys of version {}", version - 1)
    } else {
        String::new()
    };
    line(&format!(
        "wrote {} (trust root version {version}, unsigned): sign it with `ferry trust sign {} --key KEY` by {root_threshold} of its root keys{previous}",
        path.display(),
        path.display()
    ));
    Ok(ExitCode::SUCCESS)
}

pub fn add_key(args: &TrustAddKeyArgs) -> Result<ExitCode> {
    let key = keys::read_public_key(&args.key)?;
    edit(&args.target, |signed| {
        signed.add_key(role(args.role), &key);
        Ok(())
    })
}

pub fn remove_key(args: &TrustRemoveKeyArgs) -> Result<ExitCode> {
    let which = if Path::new(&args.key).is_file() {
        keys::read_public_key(Path::new(&args.key))?.minisign_base64()
    } else {
        args.key.clone()
    };
    edit(&args.target, |signed| {
        signed
            .remove_key(role(args.role), &which)
            .map(|_| ())
            .map_err(anyhow::Error::msg)
    })
}

pub fn threshold(args: &TrustThresholdArgs) -> Result<ExitCode> {
    edit(&args.target, |signed| {
        signed.set_threshold(role(args.role), args.threshold);
        Ok(())
    })
}

pub fn expires(args: &TrustExpiresArgs) -> Result<ExitCode> {
    let at = expiry(&args.when)?;
    edit(&args.target, |signed| {
        signed.expires = bundle_format::trust_root::expiry::format(at);
        Ok(())
    })
}

pub fn sign(args: &TrustSignArgs) -> Result<ExitCode> {
    let mut file = read(&args.root)?;
    let key = keys::signing_key(&args.key, &args.password)?;
    let keyid = file.sign(&key)?;
    let output = args.output.as_deref().unwrap_or(&args.root);
    write(output, &file)?;
    let (valid, threshold) = file
        .signed_by(&file.signed, RoleName::Root)
        .map_err(anyhow::Error::msg)?;
    let holds_root = file
        .signed
        .role(RoleName::Root)
        .is_some_and(|r| r.keyids.contains(&keyid));
    line(&format!(
        "signed {} (trust root version {}) with key {}{}\n  {} of the {threshold} root keys of this version have signed it{}",
        output.display(),
        file.signed.version,
        key.id(),
        if holds_root {
            ""
        } else {
            " (not a root key of this version: it counts only as a key of the version before)"
        },
        valid.len(),
        if file.signed.version > 1 {
            format!(
                "; it also needs enough root keys of version {}",
                file.signed.version - 1
            )
        } else {
            String::new()
        }
    ));
    Ok(ExitCode::SUCCESS)
}

pub fn show(args: &TrustShowArgs) -> Result<ExitCode> {
    let file = read(&args.root)?;
    let signed = &file.signed;
    let now = time::OffsetDateTime::now_utc();
    let mut roles = serde_json::Map::new();
    for which in [RoleName::Root, RoleName::Bundle] {
        let (keys, threshold) = signed.role_keys(which).map_err(anyhow::Error::msg)?;
        let ids: Vec<String> = keys.iter().map(|k| k.id().to_string()).collect();
        roles.insert(
            which.name().to_owned(),
            json!({"keys": ids, "threshold": threshold}),
        );
    }
    let (valid, threshold) = file
        .signed_by(signed, RoleName::Root)
        .map_err(anyhow::Error::msg)?;
    let self_signed = valid.len() >= threshold;
    let follows = args.previous.as_deref().map(|previous| {
        let bytes = bundle_format::bounded::read_regular(previous, MAX_ROOT_BYTES)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(TrustRoot::pin(&bytes, now)?))
            .with_context(|| format!("trust root {}", previous.display()));
        bytes
            .and_then(|held| Ok(held.update(&file.to_json())?))
            .map(|_| ())
    });
    let expired = bundle_format::trust_root::expiry::parse(&signed.expires)
        .map(|at| at <= now)
        .unwrap_or(true);
    if args.json {
        print_json(&json!({
            "version": signed.version,
            "expires": signed.expires,
            "expired": expired,
            "roles": roles,
            "signatures": file.signatures.iter().map(|s| s.keyid.clone()).collect::<Vec<_>>(),
            "rootKeysSigned": valid.len(),
            "rootThreshold": threshold,
            "complete": self_signed,
            "followsPrevious": follows.as_ref().map(|r| r.as_ref().map_err(|e| format!("{e:#}")).err().unwrap_or_default()),
        }))?;
    } else {
        let mut text = format!(
            "trust root version {} (TUF spec {}), expires {}{}\n",
            signed.version,
            signed.spec_version,
            signed.expires,
            if expired { " (EXPIRED)" } else { "" }
        );
        for (name, role) in &roles {
            text.push_str(&format!(
                "  {name}: {} of {}\n",
                role["threshold"],
                role["keys"]
                    .as_array()
                    .map(|ids| ids
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            ));
        }
        text.push_str(&format!(
            "  signed by {} of the {threshold} root keys it needs{}",
            valid.len(),
            if self_signed {
                ""
            } else {
                ": NOT yet complete"
            }
        ));
        match &follows {
            Some(Ok(())) => text.push_str("\n  follows the previous version: yes"),
            Some(Err(e)) => text.push_str(&format!("\n  follows the previous version: NO: {e:#}")),
            None => {}
        }
        line(&text);
    }
    Ok(
        if self_signed && !expired && follows.as_ref().is_none_or(Result::is_ok) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}
