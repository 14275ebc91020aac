#!/bin/bash
# The by-hand install: download, check the signed list, the digest, the archive's signature, unpack.
set -euo pipefail
U=$1 V=$2 D=$3
cd "$D"
curl -fsSO "$U/udos-wizard-full-v$V.tar.gz" -fsSO "$U/udos-wizard-full-v$V.tar.gz.asc" -fsSO "$U/SHA256SUMS" -fsSO "$U/SHA256SUMS.asc"
gpg -q --verify SHA256SUMS.asc SHA256SUMS 2>/dev/null
sha256sum -c --ignore-missing --quiet SHA256SUMS
gpg -q --verify "udos-wizard-full-v$V.tar.gz.asc" "udos-wizard-full-v$V.tar.gz" 2>/dev/null
tar -xzf "udos-wizard-full-v$V.tar.gz"
