//! Strict ustar headers. A bundle holds only regular files with plain ustar names: no PAX or GNU
//! extension headers, no links, no devices, no directories. That keeps every header exactly 512
//! bytes and leaves nothing for an extractor to resolve outside its target.

use tar::{EntryType, Header};

pub const BLOCK: u64 = 512;

/// Bytes of zero padding after `size` bytes of entry data.
pub fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// A deterministic header for a regular file: mode 0644, owner 0:0, mtime 0.
pub fn regular_file_header(name: &str, size: u64) -> std::io::Result<[u8; 512]> {
    let mut header = Header::new_ustar();
    header.set_entry_type(EntryType::Regular);
    // set_path would accept a prefix split; bundle names always fit the 100-byte name field.
    if name.len() > 100 {
        return Err(std::io::Error::other(format!(
            "entry name `{name}` is longer than 100 bytes"
        )));
    }
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    let mut block = [0u8; 512];
    block.copy_from_slice(header.as_bytes());
    Ok(block)
}

/// What a header may legitimately say in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedHeader {
    pub name: String,
    pub size: u64,
}

/// Why a header is refused. Each maps to a distinct message in [`crate::Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    EndOfArchive,
    BadChecksum,
    NotUstar,
    ForbiddenType {
        name: String,
        kind: &'static str,
    },
    UnsafePath {
        name: String,
    },
    BadName,
    BadSize,
    /// A field the format fixes holds something else (a setuid mode, an owner, a time).
    NotCanonical {
        name: String,
        field: &'static str,
    },
}

pub fn parse_header(block: &[u8; 512]) -> Result<ParsedHeader, HeaderProblem> {
    if block.iter().all(|&b| b == 0) {
        return Err(HeaderProblem::EndOfArchive);
    }
    if !checksum_matches(block) {
        return Err(HeaderProblem::BadChecksum);
    }
    let header = Header::from_byte_slice(block);
    let Some(ustar) = header.as_ustar() else {
        return Err(HeaderProblem::NotUstar);
    };
    let name = std::str::from_utf8(null_terminated(&header.as_old().name))
        .map_err(|_| HeaderProblem::BadName)?
        .to_owned();
    let prefix = null_terminated(&ustar.prefix);
    let full_name = if prefix.is_empty() {
        name.clone()
    } else {
        format!("{}/{name}", String::from_utf8_lossy(prefix))
    };
    if is_unsafe_path(&full_name) {
        return Err(HeaderProblem::UnsafePath { name: full_name });
    }
    let kind = match header.entry_type() {
        EntryType::Regular => None,
        EntryType::Symlink => Some("symbolic link"),
        EntryType::Link => Some("hard link"),
        EntryType::Char => Some("character device"),
        EntryType::Block => Some("block device"),
        EntryType::Fifo => Some("FIFO"),
        EntryType::Directory => Some("directory"),
        EntryType::XHeader | EntryType::XGlobalHeader => Some("PAX extended header"),
        EntryType::GNULongName | EntryType::GNULongLink => Some("GNU long-name header"),
        _ => Some("non-regular entry"),
    };
    if let Some(kind) = kind {
        return Err(HeaderProblem::ForbiddenType {
            name: full_name,
            kind,
        });
    }
    if !prefix.is_empty() {
        return Err(HeaderProblem::BadName);
    }
    let size = header.entry_size().map_err(|_| HeaderProblem::BadSize)?;
    // Every other field is fixed by the format (docs/bundle-format.md §3): the header must be
    // exactly the one a writer makes, so no extractor can be told to set a mode, an owner or a
    // time, whatever it honours.
    let canonical = regular_file_header(&name, size).map_err(|_| HeaderProblem::BadName)?;
    if let Some(field) = first_difference(block, &canonical) {
        return Err(HeaderProblem::NotCanonical { name, field });
    }
    Ok(ParsedHeader { name, size })
}

/// The ustar fields, by byte range, in the order they are reported.
const FIELDS: [(&str, usize, usize); 17] = [
    ("name", 0, 100),
    ("mode", 100, 108),
    ("uid", 108, 116),
    ("gid", 116, 124),
    ("size", 124, 136),
    ("mtime", 136, 148),
    ("type", 156, 157),
    ("linkname", 157, 257),
    ("magic", 257, 263),
    ("version", 263, 265),
    ("uname", 265, 297),
    ("gname", 297, 329),
    ("devmajor", 329, 337),
    ("devminor", 337, 345),
    ("prefix", 345, 500),
    ("padding", 500, 512),
    // Last: it differs whenever another field does.
    ("checksum", 148, 156),
];

fn first_difference(block: &[u8; 512], canonical: &[u8; 512]) -> Option<&'static str> {
    FIELDS
        .iter()
        .find(|(_, start, end)| block[*start..*end] != canonical[*start..*end])
        .map(|(field, _, _)| *field)
}

/// `..` anywhere, a leading `/`, or a backslash: never acceptable in a bundle.
pub fn is_unsafe_path(name: &str) -> bool {
    name.starts_with('/')
        || name.contains('\\')
        || name.split('/').any(|part| part == ".." || part == ".")
        || name.is_empty()
}

fn null_terminated(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn checksum_matches(block: &[u8; 512]) -> bool {
    let stored = null_terminated(&block[148..156]);
    let stored = std::str::from_utf8(stored)
        .unwrap_or("")
        .trim_matches(|c| c == ' ' || c == '\0');
    let Ok(stored) = u32::from_str_radix(stored, 8) else {
        return false;
    };
    let computed: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(b)
            }
        })
        .sum();
    stored == computed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let block = regular_file_header("blobs/sha256/abc", 1234).unwrap_or([0; 512]);
        assert_eq!(
            parse_header(&block),
            Ok(ParsedHeader {
                name: "blobs/sha256/abc".into(),
                size: 1234
            })
        );
    }

    #[test]
    fn links_devices_and_escapes_are_refused() {
        for (kind, expected) in [
            (EntryType::Symlink, "symbolic link"),
            (EntryType::Link, "hard link"),
            (EntryType::Char, "character device"),
        ] {
            let mut header = Header::new_ustar();
            header.set_entry_type(kind);
            header.as_old_mut().name[..4].copy_from_slice(b"evil");
            header.set_cksum();
            let mut block = [0u8; 512];
            block.copy_from_slice(header.as_bytes());
            assert_eq!(
                parse_header(&block),
                Err(HeaderProblem::ForbiddenType {
                    name: "evil".into(),
                    kind: expected
                })
            );
        }
        for name in ["../x", "/etc/x", "a/../../b", "./x"] {
            let block = regular_file_header(name, 1).unwrap_or([0; 512]);
            assert_eq!(
                parse_header(&block),
                Err(HeaderProblem::UnsafePath { name: name.into() })
            );
        }
    }

    #[test]
    fn every_field_the_format_fixes_is_checked() {
        let setuid = |edit: &dyn Fn(&mut Header)| {
            let mut header = Header::new_ustar();
            header.set_entry_type(EntryType::Regular);
            header.as_old_mut().name[..10].copy_from_slice(b"oci-layout");
            header.set_size(10);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            edit(&mut header);
            header.set_cksum();
            let mut block = [0u8; 512];
            block.copy_from_slice(header.as_bytes());
            parse_header(&block)
        };
        assert!(setuid(&|_| {}).is_ok());
        for (field, edit) in [
            (
                "mode",
                &(|h: &mut Header| h.set_mode(0o4755)) as &dyn Fn(&mut Header),
            ),
            ("uid", &|h: &mut Header| h.set_uid(1000)),
            ("gid", &|h: &mut Header| h.set_gid(1000)),
            ("mtime", &|h: &mut Header| h.set_mtime(1)),
            ("uname", &|h: &mut Header| {
                let _ = h.set_username("root");
            }),
            ("linkname", &|h: &mut Header| {
                let _ = h.set_link_name("x");
            }),
        ] {
            assert_eq!(
                setuid(edit),
                Err(HeaderProblem::NotCanonical {
                    name: "oci-layout".into(),
                    field
                }),
                "{field}"
            );
        }
    }

    #[test]
    fn checksum_is_checked() {
        let mut block = regular_file_header("oci-layout", 10).unwrap_or([0; 512]);
        block[0] ^= 1;
        assert_eq!(parse_header(&block), Err(HeaderProblem::BadChecksum));
    }
}
