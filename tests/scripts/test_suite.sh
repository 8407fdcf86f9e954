#!/usr/bin/env bash
# The test suite: the README's test command, and exactly what .ci/run runs.
#
#   1. `cargo test` on this machine: every crate, every test.
#   2. The lean runtime on ARM under qemu-user (`cross_test.sh aarch64|armv7 --lean`): kernel
#      tests, the committed planned models bit-identical to onnxruntime, zero allocations per
#      inference — with SDOT, NEON, armv7 NEON and scalar kernels (6–8 minutes cold).
#
# Step 2 needs the Rust targets aarch64-unknown-linux-gnu and armv7-unknown-linux-gnueabihf
# and Debian's gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf and qemu-user. What is missing
# is installed (rustup; apt-get as root or with passwordless sudo). When that is impossible,
# a banner says the ARM tests did NOT run and why; the exit status is then that of step 1,
# unless QPOSE_REQUIRE_ARM=1 makes it a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo test

not_run() {
    {
        echo ""
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        echo "!!! ARM TESTS NOT RUN: $*"
        echo "!!! (x86 tests passed; see tests/scripts/cross_test.sh for the ARM setup)"
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    } >&2
    [ "${QPOSE_REQUIRE_ARM:-0}" = 1 ] && exit 1
    exit 0
}

[ "$(uname -s -m)" = "Linux x86_64" ] || not_run "the cross set-up is written for an x86_64 Linux host, this is $(uname -s -m)"

targets=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
missing_targets=()
for t in "${targets[@]}"; do
    rustup target list --installed 2>/dev/null | grep -qx "$t" || missing_targets+=("$t")
done
if [ ${#missing_targets[@]} -gt 0 ]; then
    echo "== rustup target add ${missing_targets[*]}" >&2
    rustup target add "${missing_targets[@]}" || not_run "rustup could not add ${missing_targets[*]}"
fi

packages=()
command -v aarch64-linux-gnu-gcc >/dev/null || packages+=(gcc-aarch64-linux-gnu)
command -v arm-linux-gnueabihf-gcc >/dev/null || packages+=(gcc-arm-linux-gnueabihf)
{ command -v qemu-aarch64 >/dev/null && command -v qemu-arm >/dev/null; } || packages+=(qemu-user)
if [ ${#packages[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        sudo=()
    elif sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        not_run "${packages[*]} missing, and installing them needs root (apt-get install ${packages[*]})"
    fi
    apt_get() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
    echo "== apt-get install ${packages[*]}" >&2
    apt_get install -y --no-install-recommends "${packages[@]}" \
        || { apt_get update && apt_get install -y --no-install-recommends "${packages[@]}"; } \
        || not_run "apt-get could not install ${packages[*]}"
fi

tests/scripts/cross_test.sh aarch64 --lean
tests/scripts/cross_test.sh armv7 --lean
