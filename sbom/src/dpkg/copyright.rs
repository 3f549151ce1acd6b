//! The licences a Debian package declares: its `/usr/share/doc/PACKAGE/copyright`, when that is
//! in the machine-readable format (copyright-format 1.0, once DEP-5). Such a file is a sequence
//! of deb822 paragraphs: a header paragraph first (with `Format:`), then `Files:` paragraphs,
//! then stand-alone `License:` paragraphs holding the texts the others name. The first line of a
//! `License:` field is its synopsis: short names (`GPL-2+`, `Expat`, `public-domain`) joined by
//! `or` and `and`, a comma setting precedence, an exception written `NAME with WORDS exception`.
//!
//! Read here: the synopses of the header's `License:` (the work as a whole) and of every
//! `Files:` paragraph's, each split into its short names, in the order they first appear, each
//! once. Stand-alone licence paragraphs only give texts for names already declared and add none.
//! A file in any other form (free text, as many packages still have) declares nothing that a
//! machine can read: `None`.
//!
//! Read streaming, a line at a time: whatever the file's size, what is held is one line (at
//! most [`MAX_LINE_BYTES`]) and the names found (at most [`MAX_NAMES`] of at most
//! [`MAX_NAME_BYTES`] each), so an image's hundreds of copyright files cost a few bytes each.

use std::io::{self, BufRead};

/// The longest line read; the rest of a longer line is skipped. Synopses are a few dozen bytes;
/// only licence texts have long lines, and their lines are not read.
pub const MAX_LINE_BYTES: usize = 4096;
/// The most short names kept from one file (real files name a handful; a few dozen at most).
pub const MAX_NAMES: usize = 64;
/// The longest short name kept (with its exception: `GPL-2+ with OpenSSL exception`); longer
/// ones are not names but prose in the wrong place, and are left out.
pub const MAX_NAME_BYTES: usize = 200;

/// What the current paragraph has shown so far.
#[derive(Debug, Default)]
struct Paragraph {
    started: bool,
    files: bool,
    /// A `Format` (or the draft's `Format-Specification`) naming the machine-readable format.
    machine_readable: bool,
    synopsis: Option<String>,
}

/// The next line into `line` (without its line ending, at most `MAX_LINE_BYTES`); false at the
/// end of the input.
fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    let mut any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let (part, used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..end], end + 1, true),
            None => (available, available.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        line.extend_from_slice(&part[..part.len().min(room)]);
        reader.consume(used);
        if done {
            break;
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(any)
}

/// A synopsis as its short names: split at the `or` and `and` that join them (and the commas
/// that group them); the words of one name (`with … exception`) stay together.
pub fn short_names(synopsis: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut finish = |current: &mut Vec<&str>| {
        if !current.is_empty() {
            names.push(current.join(" "));
            current.clear();
        }
    };
    for word in synopsis.split_whitespace() {
        if word.eq_ignore_ascii_case("or") || word.eq_ignore_ascii_case("and") {
            finish(&mut current);
            continue;
        }
        let (word, comma) = match word.strip_suffix(',') {
            Some(stripped) => (stripped, true),
            None => (word, false),
        };
        if !word.is_empty() {
            current.push(word);
        }
        if comma {
            finish(&mut current);
        }
    }
    finish(&mut current);
    names
}

/// Add a paragraph's names to `names`, each once.
fn declare(names: &mut Vec<String>, synopsis: &str) {
    for name in short_names(synopsis) {
        if names.len() >= MAX_NAMES {
            return;
        }
        if name.len() <= MAX_NAME_BYTES && !names.contains(&name) {
            names.push(name);
        }
    }
}

/// Whether a `Format` value names the machine-readable format (1.0, or a DEP-5 draft).
fn machine_readable_format(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    lower.contains("copyright-format") || lower.contains("dep5") || lower.contains("dep-5")
}

/// The licence short names a copyright file declares, or None when it is not in the
/// machine-readable format. Errors are the reader's only.
pub fn licences(mut reader: impl BufRead) -> io::Result<Option<Vec<String>>> {
    let mut names: Vec<String> = Vec::new();
    let mut line = Vec::new();
    let mut paragraph = Paragraph::default();
    let mut header_seen = false;
    loop {
        let more = next_line(&mut reader, &mut line)?;
        let text = String::from_utf8_lossy(&line);
        let blank = text.trim().is_empty();
        if (!more || blank) && paragraph.started {
            let finished = std::mem::take(&mut paragraph);
            if !header_seen {
                if !finished.machine_readable {
                    return Ok(None);
                }
                header_seen = true;
                if let Some(synopsis) = &finished.synopsis {
                    declare(&mut names, synopsis);
                }
            } else if finished.files
                && let Some(synopsis) = &finished.synopsis
            {
                declare(&mut names, synopsis);
            }
        }
        if !more {
            break;
        }
        // Blank lines between paragraphs, comment lines, and continuation lines (field values
        // past their first line: file lists, copyright holders, licence texts) say nothing here.
        if blank || text.starts_with('#') || text.starts_with([' ', '\t']) {
            continue;
        }
        paragraph.started = true;
        let Some((field, value)) = text.split_once(':') else {
            continue;
        };
        let (field, value) = (field.trim(), value.trim());
        if field.eq_ignore_ascii_case("Files") {
            paragraph.files = true;
        } else if field.eq_ignore_ascii_case("License") {
            paragraph.synopsis = Some(value.to_owned());
        } else if (field.eq_ignore_ascii_case("Format")
            || field.eq_ignore_ascii_case("Format-Specification"))
            && machine_readable_format(value)
        {
            paragraph.machine_readable = true;
        }
    }
    Ok(header_seen.then_some(names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<Vec<String>> {
        licences(text.as_bytes()).unwrap_or_else(|e| unreachable!("{e}"))
    }

    const COPYRIGHT: &str =
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\r
Upstream-Name: demo
License: GPL-2+

Files: *
Copyright: 2001 Someone
License: GPL-2+ or Artistic-2.0, and BSD-3-clause
 This text is not a name: MIT.

Files: lib/*
 lib2/*
Copyright: 2020 Else
License: LGPL-2.1+ with OpenSSL exception

Files: debian/*
Copyright: none
License: public-domain

License: Unused-In-Files
 Stand-alone licence texts declare nothing.
";

    #[test]
    fn header_and_files_paragraphs_give_their_short_names_once() {
        assert_eq!(
            read(COPYRIGHT).unwrap_or_default(),
            [
                "GPL-2+",
                "Artistic-2.0",
                "BSD-3-clause",
                "LGPL-2.1+ with OpenSSL exception",
                "public-domain"
            ]
        );
        // The draft's field name, and a file whose last paragraph has no newline at the end.
        assert_eq!(
            read("Format-Specification: http://svn.debian.org/wsvn/dep/web/deps/dep5.mdwn?op=file&rev=135\n\nFiles: *\nLicense: Expat").unwrap_or_default(),
            ["Expat"]
        );
        // Free text, and an empty file: nothing machine-readable.
        assert_eq!(
            read("This is the Debian prepackaged version of foo.\n\nLicense: GPL-2\n"),
            None
        );
        assert_eq!(read(""), None);
        assert_eq!(read("\n\n"), None);
    }

    #[test]
    fn long_lines_and_many_names_are_bounded() {
        let mut text =
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
                .to_owned();
        text.push_str(&format!(
            "Files: *\nLicense: {}\n",
            "x".repeat(MAX_LINE_BYTES * 3)
        ));
        text.push_str(" a continuation line\n\n");
        for i in 0..MAX_NAMES * 2 {
            text.push_str(&format!("Files: f{i}\nLicense: L-{i}\n\n"));
        }
        let names = read(&text).unwrap_or_default();
        assert_eq!(names.len(), MAX_NAMES);
        assert_eq!(names[0], "L-0");
        assert!(names.iter().all(|n| n.len() <= MAX_NAME_BYTES));
        assert_eq!(
            short_names("A or B and C, or D"),
            ["A", "B", "C", "D"],
            "every name, whatever joins them"
        );
        assert!(short_names(" , or ").is_empty());
    }
}
