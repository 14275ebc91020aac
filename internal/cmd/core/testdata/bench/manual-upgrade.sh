#!/bin/bash
# The by-hand upgrade: the by-hand install of the new version beside the old, then switch a symlink.
set -euo pipefail
U=$1 V=$2 D=$3
mkdir -p "$D/new"
"$(dirname "$0")/manual.sh" "$U" "$V" "$D/new"
ln -sfn "new/udos-wizard-full-v$V" "$D/current"
