#!/usr/bin/env bash
# BENCHMARKS.md "build-variant": the build of a generated 500 MiB uDOS tree
# (core-slim) by the action's program against GNU tar + gzip on the same
# tree, in the same hyperfine run; then the reproducibility check (two builds
# from copies with other mtimes and umask give the same bytes).
#   actions/build-variant/testdata/bench.sh [SIZE_MIB] [WORKDIR]
set -euo pipefail
size=${1:-500}
work=${2:-$(mktemp -d)}
repo=$(cd "$(dirname "$0")/../../.." && pwd)
epoch=1764072000
mkdir -p "$work"
cd "$repo"
go build -trimpath -o "$work/build-variant" ./actions/build-variant
[ -d "$work/tree" ] || go run ./actions/build-variant/testdata/gentree -size "$size" "$work/tree"
go run ./actions/build-variant/testdata/genkey > "$work/key.asc"
echo "tree: $(du -sh "$work/tree" | cut -f1), $(find "$work/tree" -type f | wc -l) files, $(nproc) cores" >&2

export INPUT_VARIANT=core-slim INPUT_SOURCE="$work/tree" INPUT_SOURCE_DATE_EPOCH=$epoch INPUT_VERSION=1.4.6
cd "$work"
hyperfine --warmup 1 --runs "${RUNS:-3}" --export-markdown "$work/bench.md" \
  -n 'build-variant (archive, SBOM, formula, manifest, checksums)' \
  "rm -rf out && INPUT_OUTPUT=out ./build-variant >/dev/null" \
  -n 'build-variant + signing' \
  "rm -rf outs && INPUT_OUTPUT=outs INPUT_SIGNING_KEY=\"\$(cat key.asc)\" ./build-variant >/dev/null" \
  -n 'tar --sort=name … | gzip -n -6' \
  "tar --sort=name --mtime=@$epoch --owner=0 --group=0 --numeric-owner -cf - tree | gzip -n -6 > ref.tar.gz"
cat "$work/bench.md"

# Reproducibility: a copy with other mtimes and umask, built again.
rm -rf tree2 && (umask 077 && cp -r tree tree2) && find tree2 -exec touch -d '2001-02-03 04:05:06' {} +
INPUT_OUTPUT=out2 INPUT_SOURCE="$work/tree2" ./build-variant >/dev/null
a=$(sha256sum out/udos-core-slim-v1.4.6.tar.gz | cut -d' ' -f1)
b=$(sha256sum out2/udos-core-slim-v1.4.6.tar.gz | cut -d' ' -f1)
echo "sizes: ours $(stat -c %s out/udos-core-slim-v1.4.6.tar.gz) B, tar+gzip $(stat -c %s ref.tar.gz) B"
echo "sha256 build 1: $a"
echo "sha256 build 2: $b"
if [ "$a" = "$b" ]; then echo "reproducible: yes"; else echo "reproducible: NO"; exit 1; fi
