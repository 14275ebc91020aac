#!/usr/bin/env bash
# Writes the Sonic partition layout to a USB stick (Linux only).
set -euo pipefail
echo "usage: $0 /dev/sdX" >&2
exit 2
