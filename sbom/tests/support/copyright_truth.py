# Ground truth for Debian's machine-readable copyright files, from python-debian (Debian's own
# deb822 and copyright-format parser), for sbom/tests/debian_copyright.rs and
# cli/tests/cli/sbom_ecosystems.rs. For each file named prints
# `PACKAGE<TAB>STATE<TAB>NAME<TAB>NAME...`, PACKAGE the directory the file is in: STATE `none`
# for a file python-debian finds not machine-readable, `other` for one in a format it does not
# know (a DEP-5 draft, a misspelt URL), `known` for copyright-format 1.0, with the short names of
# the header's and the Files paragraphs' License synopses, split at `or`, `and` and commas, each
# once, in the order they first appear.
import logging
import re
import sys

from debian.copyright import Copyright, MachineReadableFormatError, NotMachineReadableError

logging.disable(logging.CRITICAL)
for path in sys.argv[1:]:
    package = path.rstrip("/").split("/")[-2]
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            parsed = Copyright(f, strict=False)
    except (NotMachineReadableError, MachineReadableFormatError, ValueError):
        print(package, "none", sep="\t")
        continue
    if not parsed.header.known_format():
        print(package, "other", sep="\t")
        continue
    synopses = []
    if parsed.header.license is not None:
        synopses.append(parsed.header.license.synopsis)
    for paragraph in parsed.all_files_paragraphs():
        if paragraph.license is not None:
            synopses.append(paragraph.license.synopsis)
    names = []
    for synopsis in synopses:
        for part in re.split(r",|\s(?:or|and)(?=\s)", " " + synopsis + " ", flags=re.I):
            name = " ".join(part.split())
            if name and name not in names:
                names.append(name)
    print(package, "known", *names, sep="\t")
