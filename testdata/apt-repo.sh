#!/usr/bin/env bash
# A signed Debian repository of real packages, for the OS-package tests and the demo:
#   testdata/apt-repo.sh OUT
# OUT/repo        dists/bookworm/{InRelease,Release,Release.gpg}, main/binary-amd64/Packages(.gz, .xz),
#                 pool/main/*.deb (fetched with `apt-get download` from the machine's Debian mirror)
# OUT/key.asc     the throwaway key that signs it; OUT/other-key.asc another throwaway key
# libc6 is marked Priority: required through an override file, as the Debian archive marks it,
# so the baseline leaves it out. Built once per OUT (OUT/ready), again after a week (its Release
# is valid for 30 days; OUT/ready-2 marks this layout).
set -euo pipefail

out=$(realpath -m "$1")
[[ -n $(find "$out/ready-2" -mtime -7 2>/dev/null) ]] && exit 0
PACKAGES=(socat jq libjq1 libonig5 libwrap0 libssl3 libc6)

rm -rf "$out"
mkdir -p "$out/repo/pool/main" "$out/repo/dists/bookworm/main/binary-amd64"
if ! apt-cache show socat >/dev/null 2>&1; then
  apt-get update -q
fi
(cd "$out/repo/pool/main" && apt-get download -q "${PACKAGES[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
for package in "${PACKAGES[@]}"; do
  compgen -G "$out/repo/pool/main/${package}_*.deb" >/dev/null || { echo "apt-get download $package failed" >&2; exit 1; }
done

cd "$out/repo"
printf 'libc6 required libs\n' > "$out/override"
dpkg-scanpackages --multiversion pool "$out/override" > dists/bookworm/main/binary-amd64/Packages 2>/dev/null
gzip -9 -k -n dists/bookworm/main/binary-amd64/Packages
xz -9 -k dists/bookworm/main/binary-amd64/Packages
{
  echo "Origin: ferry-test"
  echo "Label: ferry-test"
  echo "Suite: bookworm"
  echo "Codename: bookworm"
  echo "Date: $(date -u -R | sed 's/+0000/UTC/')"
  echo "Valid-Until: $(date -u -R -d '+30 days' | sed 's/+0000/UTC/')"
  echo "Architectures: amd64"
  echo "Components: main"
  echo "SHA256:"
  for index in main/binary-amd64/Packages main/binary-amd64/Packages.gz main/binary-amd64/Packages.xz; do
    file=dists/bookworm/$index
    printf ' %s %s %s\n' "$(sha256sum "$file" | cut -d' ' -f1)" "$(stat -c %s "$file")" "$index"
  done
} > dists/bookworm/Release

make_key() {
  mkdir -m 700 -p "$1"
  GNUPGHOME=$1 gpg --batch --quiet --passphrase '' --quick-gen-key "$2" ed25519 sign never 2>/dev/null
}
make_key "$out/gnupg" 'ferry test repository <repo@example.invalid>'
make_key "$out/gnupg-other" 'another key <other@example.invalid>'
GNUPGHOME=$out/gnupg gpg --batch --quiet --yes --clearsign -o dists/bookworm/InRelease dists/bookworm/Release
GNUPGHOME=$out/gnupg gpg --batch --quiet --yes --armor --detach-sign -o dists/bookworm/Release.gpg dists/bookworm/Release
GNUPGHOME=$out/gnupg gpg --batch --armor --export > "$out/key.asc"
GNUPGHOME=$out/gnupg-other gpg --batch --armor --export > "$out/other-key.asc"
gpgconf --homedir "$out/gnupg" --kill all 2>/dev/null || true
gpgconf --homedir "$out/gnupg-other" --kill all 2>/dev/null || true
touch "$out/ready" "$out/ready-2"
