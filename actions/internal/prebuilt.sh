#!/usr/bin/env bash
# prebuilt.sh PROGRAM OUT: put the action program PROGRAM at OUT.
#
# When the action runs at a released ref (ACTION_REF, e.g. v9.9.9) and
# actions/PROGRAM/prebuilt.sha256 (written at release time, committed with
# the action) lists this runner's archive for that ref, the archive is
# downloaded from the udos-dist release of the ref
# ($SERVER_URL/$ACTION_REPOSITORY/releases/download/$ACTION_REF/...), its
# sha256 is checked against that list, and the program is unpacked: no Go
# needed. A digest that does not match fails the step before anything runs.
# Without a listed archive (a branch, a fork, an unreleased ref) or when the
# release has no such asset, it builds the program with `go build` as before.
#
# Runs from the repository root of the action (github.action_path/../..).
set -euo pipefail
program=$1 out=$2
ref=${ACTION_REF:-}
repo=${ACTION_REPOSITORY:-fredbook/udos-dist}
server=${SERVER_URL:-https://github.com}
list="actions/$program/prebuilt.sha256"

build() {
  echo "prebuilt: $1; building $program with go build" >&2
  CGO_ENABLED=0 go build -trimpath -o "$out" "./actions/$program"
}

case $(uname -s) in Linux) os=linux ;; Darwin) os=darwin ;; *) os=unknown ;; esac
case $(uname -m) in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) arch=unknown ;; esac
archive="$program-$ref-$os-$arch.tar.gz"

want=
if [[ -n $ref && -f $list ]]; then
  while read -r sum name; do
    if [[ $name == "$archive" ]]; then want=$sum; fi
  done < "$list"
fi
if [[ -z $want ]]; then
  build "no prebuilt $program for ref '${ref:-none}' on $os-$arch"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
url="$server/$repo/releases/download/$ref/$archive"
code=$(curl -sSL -o "$tmp/$archive" -w '%{http_code}' "$url" || true)
if [[ $code != 200 ]]; then
  build "$url answered ${code:-nothing}"
  exit 0
fi
if command -v sha256sum >/dev/null 2>&1; then got=$(sha256sum "$tmp/$archive" | cut -d' ' -f1)
else got=$(shasum -a 256 "$tmp/$archive" | cut -d' ' -f1); fi
if [[ $got != "$want" ]]; then
  echo "::error::prebuilt: $archive has sha256 $got, but $list says $want: refusing to run it" >&2
  exit 1
fi
tar -xzf "$tmp/$archive" -C "$tmp" "$program"
mv -f "$tmp/$program" "$out"
chmod 0755 "$out"
echo "prebuilt: $program $ref for $os-$arch from the release (sha256 $got)" >&2
