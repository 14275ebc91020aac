# Base tools: gpg for OpenPGP interop, git for fixtures.
apt-get install -y -qq gnupg git ca-certificates >/dev/null
