//! Go binaries: the build information the Go toolchain embeds in every executable it links, read
//! streaming from the file (constant memory, whatever its size).
//!
//! The linker writes a blob that starts with the 14-byte magic `\xff Go buildinf:`, the pointer
//! size, a flags byte, and padding to 32 bytes. Since Go 1.18 (flags bit `0x2`) two
//! varint-length-prefixed strings follow inline: the Go version (`go1.21.5`), and the module
//! information between two 16-byte sentinels, tab-separated lines of `path`, `mod` (the main
//! module), `dep`, `=>` (the replacement of the module on the line before) and `build`.
//!
//! Gap: binaries of Go 1.17 and earlier store two pointers to these strings instead, which only
//! a reader that maps virtual addresses to file offsets through the ELF program headers can
//! follow; they are not read (None), like non-ELF files and ELF files that Go did not link.

use std::io::{self, Read};

use crate::package::{Ecosystem, Package};
use crate::purl::purl;

const ELF_MAGIC: [u8; 4] = *b"\x7fELF";
const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_LEN: usize = 32;
const FLAG_INLINE_STRINGS: u8 = 0x2;
const KNOWN_FLAGS: u8 = 0x3;
/// Go's `binary.Uvarint` takes at most this many bytes.
const MAX_VARINT_LEN: usize = 10;
/// The sentinels cmd/go frames the module information with, 16 bytes each.
const SENTINEL_LEN: usize = 16;
/// Bytes read from the file per read call.
const CHUNK: usize = 64 << 10;

/// The longest module information read: real ones are a few KiB, even with hundreds of modules.
pub const MAX_MODINFO_BYTES: u64 = 1 << 20;
/// The longest Go version string read (`go1.21.5 X:boringcrypto` and the like are far shorter).
pub const MAX_VERSION_BYTES: u64 = 256;

/// A Go module as the build information names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    /// A module version (`v1.2.3`, a pseudo-version), or `(devel)` for a main module built from
    /// its own source tree or a dependency replaced by a directory.
    pub version: String,
    /// The go.sum hash (`h1:…`), when the build had one.
    pub sum: Option<String>,
    /// The `replace` directive's target: another module with a version, or a directory (its
    /// path, version `(devel)` or empty).
    pub replaced_by: Option<Box<Module>>,
}

/// What a Go binary says about how it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildInfo {
    /// The toolchain's version: `go1.21.5`.
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    pub main: Module,
    pub deps: Vec<Module>,
}

/// Why a Go build information blob could not be read; `scan` returns it inside an
/// `io::Error` of kind `InvalidData`.
#[derive(Debug, thiserror::Error)]
pub enum BuildInfoError {
    #[error(
        "the Go build information ends before its {what}: the binary is truncated; read it again from the image"
    )]
    Truncated { what: &'static str },
    #[error(
        "the Go build information's {what} claims {length} bytes, more than the {limit} ferry reads: the binary is corrupt, or was not linked by the Go toolchain"
    )]
    TooLong {
        what: &'static str,
        length: u64,
        limit: u64,
    },
    #[error(
        "the length of the Go build information's {what} is not a valid varint: the binary is corrupt"
    )]
    BadVarint { what: &'static str },
}

impl From<BuildInfoError> for io::Error {
    fn from(error: BuildInfoError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

/// The build information of one file, read from `entry` positioned at its first byte; `size` is
/// the file's size (nothing past it is read). None for a file that is not ELF (after its first 4
/// bytes), and for an ELF file with no build information of Go 1.18 or later.
pub fn scan(entry: &mut dyn Read, size: u64) -> io::Result<Option<BuildInfo>> {
    let mut first = [0u8; 4];
    let mut limited = entry.take(size);
    if !read_full(&mut limited, &mut first)? || first != ELF_MAGIC {
        return Ok(None);
    }
    Stream::new(&mut limited).find_build_info()
}

/// Fill `buf` from `reader`; false when the stream ends first.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        match reader.read(rest) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// A window onto the stream: `buf[start..]` is what has been read and not yet consumed. It
/// holds at most a chunk plus what a header under inspection needs.
struct Stream<'a> {
    inner: &'a mut dyn Read,
    buf: Vec<u8>,
    start: usize,
}

impl<'a> Stream<'a> {
    fn new(inner: &'a mut dyn Read) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(CHUNK + HEADER_LEN),
            start: 0,
        }
    }

    fn window(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Read up to a chunk more after the window; 0 at the end of the stream.
    fn fill(&mut self) -> io::Result<usize> {
        self.buf.drain(..self.start.min(self.buf.len()));
        self.start = 0;
        let old = self.buf.len();
        self.buf.resize(old + CHUNK, 0);
        let read = loop {
            match self.inner.read(self.buf.get_mut(old..).unwrap_or_default()) {
                Ok(n) => break Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.buf.truncate(old + *read.as_ref().unwrap_or(&0));
        read
    }

    /// Make `n` bytes available in the window; false when the stream ends first.
    fn ensure(&mut self, n: usize) -> io::Result<bool> {
        while self.window().len() < n {
            if self.fill()? == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn find_build_info(&mut self) -> io::Result<Option<BuildInfo>> {
        loop {
            match find(self.window(), MAGIC) {
                Some(at) => {
                    self.start += at;
                    if let Some(info) = self.read_header()? {
                        return Ok(Some(info));
                    }
                    // Not a header after all (the magic as a string in a program that reads
                    // build information, or the pre-1.18 layout): search on past it.
                    self.start += 1;
                }
                None => {
                    // Keep a tail that could be the start of a magic split across reads.
                    let keep = MAGIC.len() - 1;
                    self.start = self.buf.len().saturating_sub(keep).max(self.start);
                    if self.fill()? == 0 {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The build information whose magic starts the window, or None when the bytes there are
    /// not an inline (Go 1.18+) header.
    fn read_header(&mut self) -> io::Result<Option<BuildInfo>> {
        if !self.ensure(HEADER_LEN)? {
            return Err(BuildInfoError::Truncated { what: "header" }.into());
        }
        let Some(&[pointer_size, flags]) = self.window().get(MAGIC.len()..MAGIC.len() + 2) else {
            return Ok(None);
        };
        if !matches!(pointer_size, 4 | 8)
            || flags & !KNOWN_FLAGS != 0
            || flags & FLAG_INLINE_STRINGS == 0
        {
            return Ok(None);
        }
        let (length, used) = self.varint(HEADER_LEN, "Go version")?;
        if length > MAX_VERSION_BYTES {
            return Ok(None);
        }
        let version_at = HEADER_LEN + used;
        let version_end = version_at + length as usize;
        if !self.ensure(version_end)? {
            return Err(BuildInfoError::Truncated { what: "Go version" }.into());
        }
        let version = self
            .window()
            .get(version_at..version_end)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .filter(|v| v.starts_with("go") || v.starts_with("devel"))
            .map(str::to_owned);
        let Some(go_version) = version else {
            return Ok(None);
        };
        let (length, used) = self.varint(version_end, "module information")?;
        if length > MAX_MODINFO_BYTES {
            return Err(BuildInfoError::TooLong {
                what: "module information",
                length,
                limit: MAX_MODINFO_BYTES,
            }
            .into());
        }
        self.start += version_end + used;
        let modinfo = self.take(length as usize)?;
        let (path, main, deps) = parse_modinfo(&unframe(&modinfo));
        Ok(Some(BuildInfo {
            go_version,
            path,
            main,
            deps,
        }))
    }

    /// Go's unsigned varint at `at` in the window, and its length.
    fn varint(&mut self, at: usize, what: &'static str) -> io::Result<(u64, usize)> {
        // Short only at the end of the stream; decoding then says whether it was enough.
        self.ensure(at + MAX_VARINT_LEN)?;
        let bytes = self.window().get(at..).unwrap_or_default();
        match uvarint(bytes) {
            Varint::Value(value, used) => Ok((value, used)),
            Varint::Incomplete => Err(BuildInfoError::Truncated { what }.into()),
            Varint::Overflow => Err(BuildInfoError::BadVarint { what }.into()),
        }
    }

    /// Consume `length` bytes from the window and the stream after it.
    fn take(&mut self, length: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(length.min(CHUNK));
        while out.len() < length {
            if self.window().is_empty() && self.fill()? == 0 {
                return Err(BuildInfoError::Truncated {
                    what: "module information",
                }
                .into());
            }
            let wanted = (length - out.len()).min(self.window().len());
            out.extend_from_slice(self.window().get(..wanted).unwrap_or_default());
            self.start += wanted;
        }
        Ok(out)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(offset) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + offset;
        let candidate = haystack.get(at..at + needle.len())?;
        if candidate == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

enum Varint {
    Value(u64, usize),
    Incomplete,
    Overflow,
}

/// Go's `binary.Uvarint`: little-endian groups of 7 bits, the high bit set on all but the last.
fn uvarint(bytes: &[u8]) -> Varint {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().take(MAX_VARINT_LEN).enumerate() {
        if i == MAX_VARINT_LEN - 1 && byte > 1 {
            return Varint::Overflow;
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Varint::Value(value, i + 1);
        }
    }
    if bytes.len() >= MAX_VARINT_LEN {
        Varint::Overflow
    } else {
        Varint::Incomplete
    }
}

/// The module information without its sentinels, as Go's own reader strips them: present when
/// the text before the closing sentinel ends in a newline, else there is none (a binary built
/// outside module mode).
fn unframe(modinfo: &[u8]) -> String {
    let framed = modinfo.len() > 2 * SENTINEL_LEN
        && modinfo.get(modinfo.len() - SENTINEL_LEN - 1) == Some(&b'\n');
    if !framed {
        return String::new();
    }
    let inner = modinfo
        .get(SENTINEL_LEN..modinfo.len() - SENTINEL_LEN)
        .unwrap_or_default();
    String::from_utf8_lossy(inner).into_owned()
}

fn module(fields: &mut std::str::Split<'_, char>) -> Option<Module> {
    let path = fields.next().filter(|p| !p.is_empty())?;
    let version = fields.next().unwrap_or_default();
    let sum = fields.next().filter(|s| !s.is_empty());
    Some(Module {
        path: path.to_owned(),
        version: version.to_owned(),
        sum: sum.map(str::to_owned),
        replaced_by: None,
    })
}

/// `path`, the main module and the dependencies; lines Go does not write (or that are cut
/// short) are passed over.
fn parse_modinfo(text: &str) -> (String, Module, Vec<Module>) {
    let mut path = String::new();
    let mut main = Module::default();
    let mut deps: Vec<Module> = Vec::new();
    // Which module a `=>` line replaces: the main module, or the last dependency.
    let mut last_is_dep = false;
    for line in text.lines() {
        let mut fields = line.split('\t');
        match fields.next() {
            Some("path") => path = fields.next().unwrap_or_default().to_owned(),
            Some("mod") => {
                if let Some(m) = module(&mut fields) {
                    main = m;
                    last_is_dep = false;
                }
            }
            Some("dep") => {
                if let Some(m) = module(&mut fields) {
                    deps.push(m);
                    last_is_dep = true;
                }
            }
            Some("=>") => {
                let target = if last_is_dep {
                    deps.last_mut()
                } else {
                    Some(&mut main)
                };
                if let (Some(target), Some(replacement)) = (target, module(&mut fields)) {
                    target.replaced_by = Some(Box::new(replacement));
                }
            }
            _ => {}
        }
    }
    (path, main, deps)
}

/// A version that names a release of a module: not empty and not `(devel)`.
fn released(version: &str) -> bool {
    !version.is_empty() && version != "(devel)"
}

/// The module as it was compiled in: a replacement by another module's version stands for the
/// module it replaces; a replacement by a directory has no version of its own, so the required
/// module's path and version stay (the best identity there is).
fn compiled(module: &Module) -> (&str, &str) {
    match &module.replaced_by {
        Some(replacement) if released(&replacement.version) => {
            (&replacement.path, &replacement.version)
        }
        _ => (&module.path, &module.version),
    }
}

/// The purl of a Go module: the path's last segment as the name, the rest as the namespace,
/// both lowercased as the purl specification's golang type requires (the package's name keeps
/// the path's case, which Go distinguishes).
fn module_purl(path: &str, version: &str) -> String {
    let lower = path.to_lowercase();
    let (namespace, name) = match lower.rsplit_once('/') {
        Some((namespace, name)) => (Some(namespace), name),
        None => (None, lower.as_str()),
    };
    purl("golang", namespace, name, version, &[])
}

/// The packages a Go binary holds:
/// - `stdlib` at the toolchain's version (`go1.21.5`, purl `pkg:golang/stdlib@1.21.5`), as syft
///   lists it, declared BSD-3-Clause (the Go project's licence); none for a development
///   toolchain (`devel …`), which names no release;
/// - the main module, only when it has a version (`go install module@version`): a binary built
///   from its own source tree says `(devel)`, which identifies nothing a scanner could match;
/// - every dependency module, as compiled in (see `compiled`).
///
/// Module licences are unknown: Go binaries do not carry them.
pub fn packages(info: &BuildInfo, found_in: &str) -> Vec<Package> {
    let mut out = Vec::new();
    let toolchain = info
        .go_version
        .split_whitespace()
        .next()
        .unwrap_or_default();
    if let Some(release) = toolchain
        .strip_prefix("go")
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
    {
        out.push(Package {
            ecosystem: Ecosystem::Golang,
            name: "stdlib".to_owned(),
            version: toolchain.to_owned(),
            arch: None,
            licenses: vec!["BSD-3-Clause".to_owned()],
            purl: purl("golang", None, "stdlib", release, &[]),
            found_in: found_in.to_owned(),
        });
    }
    let main = released(&info.main.version).then_some(&info.main);
    for module in main.into_iter().chain(&info.deps) {
        let (path, version) = compiled(module);
        if path.is_empty() {
            continue;
        }
        out.push(Package {
            ecosystem: Ecosystem::Golang,
            name: path.to_owned(),
            version: version.to_owned(),
            arch: None,
            licenses: Vec::new(),
            purl: module_purl(path, version),
            found_in: found_in.to_owned(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &[u8; 16] = b"\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6";
    const END: &[u8; 16] = b"\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2";

    fn blob(version: &str, modinfo: &str) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend([8, FLAG_INLINE_STRINGS]);
        out.resize(HEADER_LEN, 0);
        out.push(version.len() as u8);
        out.extend(version.as_bytes());
        let framed = [&START[..], modinfo.as_bytes(), &END[..]].concat();
        let mut length = framed.len();
        while length >= 0x80 {
            out.push((length as u8) | 0x80);
            length >>= 7;
        }
        out.push(length as u8);
        out.extend(framed);
        out
    }

    fn elf(blob: &[u8]) -> Vec<u8> {
        let mut out = ELF_MAGIC.to_vec();
        // After the first 4 bytes the file is read a chunk at a time: this magic straddles two.
        out.resize(ELF_MAGIC.len() + 3 * CHUNK - 7, 0);
        // The magic as a string constant, as in a program that reads build information.
        out.extend(MAGIC);
        out.extend(b"errNotGoExe");
        out.extend(blob);
        out
    }

    const MODINFO: &str = "path\texample.com/App/cmd\nmod\texample.com/App\tv1.4.0\th1:main=\ndep\tgithub.com/BurntSushi/toml\tv1.3.2\th1:toml=\ndep\texample.com/old\tv0.1.0\n=>\texample.com/fork\tv0.1.1\th1:fork=\n\ndep\texample.com/local\tv0.0.0-20240101000000-abcdefabcdef\n=>\t../local\t(devel)\t\n\nbuild\tGOARCH=amd64\n";

    #[test]
    fn inline_build_information_after_a_false_magic_across_chunks() {
        let file = elf(&blob("go1.21.5 X:boringcrypto", MODINFO));
        let info = scan(&mut &file[..], file.len() as u64)
            .unwrap_or_else(|e| unreachable!("{e}"))
            .unwrap_or_else(|| unreachable!("no build information found"));
        assert_eq!(info.go_version, "go1.21.5 X:boringcrypto");
        assert_eq!(info.path, "example.com/App/cmd");
        assert_eq!(info.main.sum.as_deref(), Some("h1:main="));
        assert_eq!(info.deps.len(), 3);
        let replaced = info.deps[1].replaced_by.as_deref();
        assert_eq!(replaced.map(|m| m.version.as_str()), Some("v0.1.1"));
        let found: Vec<(String, String, String)> = packages(&info, "usr/bin/app")
            .into_iter()
            .map(|p| (p.name, p.version, p.purl))
            .collect();
        let expected = [
            ("stdlib", "go1.21.5", "pkg:golang/stdlib@1.21.5"),
            (
                "example.com/App",
                "v1.4.0",
                "pkg:golang/example.com/app@v1.4.0",
            ),
            (
                "github.com/BurntSushi/toml",
                "v1.3.2",
                "pkg:golang/github.com/burntsushi/toml@v1.3.2",
            ),
            (
                "example.com/fork",
                "v0.1.1",
                "pkg:golang/example.com/fork@v0.1.1",
            ),
            (
                "example.com/local",
                "v0.0.0-20240101000000-abcdefabcdef",
                "pkg:golang/example.com/local@v0.0.0-20240101000000-abcdefabcdef",
            ),
        ]
        .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
        assert_eq!(found, expected);
    }

    #[test]
    fn devel_main_module_and_devel_toolchain_are_not_listed() {
        let info = BuildInfo {
            go_version: "devel go1.23-abcdef".into(),
            path: "x".into(),
            main: Module {
                path: "example.com/x".into(),
                version: "(devel)".into(),
                ..Module::default()
            },
            deps: Vec::new(),
        };
        assert!(packages(&info, "x").is_empty());
    }

    #[test]
    fn not_elf_pre_118_and_bad_lengths() {
        assert!(matches!(scan(&mut &b"#!/bin/sh\n"[..], 10), Ok(None)));
        assert!(matches!(scan(&mut &b"\x7fEL"[..], 3), Ok(None)));
        // The pointer layout of Go 1.17 and earlier: not read.
        let mut old = ELF_MAGIC.to_vec();
        old.extend(MAGIC);
        old.extend([8, 0]);
        old.resize(200, 0);
        assert!(matches!(scan(&mut &old[..], 200), Ok(None)));
        // A module information length of 2^63: refused before anything is allocated.
        let mut huge = blob("go1.22.0", "");
        let at = HEADER_LEN + 1 + "go1.22.0".len();
        huge.truncate(at);
        huge.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0x01]);
        let file = [&ELF_MAGIC[..], &huge].concat();
        assert!(scan(&mut &file[..], file.len() as u64).is_err());
        // An eleven-byte varint.
        let mut bad = file.clone();
        bad.truncate(4 + at);
        bad.extend([0xff; 11]);
        assert!(scan(&mut &bad[..], bad.len() as u64).is_err());
        // The size bounds what is read: the build information lies past it.
        let whole = elf(&blob("go1.22.0", MODINFO));
        assert!(matches!(scan(&mut &whole[..], 3 * CHUNK as u64), Ok(None)));
    }

    #[test]
    fn uvarint_matches_go() {
        assert!(matches!(uvarint(&[0x01]), Varint::Value(1, 1)));
        assert!(matches!(uvarint(&[0xac, 0x02]), Varint::Value(300, 2)));
        assert!(matches!(uvarint(&[0x80]), Varint::Incomplete));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(matches!(uvarint(&max), Varint::Value(u64::MAX, 10)));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(matches!(uvarint(&over), Varint::Overflow));
    }
}
