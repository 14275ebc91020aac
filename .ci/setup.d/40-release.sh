# build-variant / release workflow: coreutils' sha256sum/sha512sum, tar and
# gpg check the outputs; ruby checks the Homebrew formula's syntax; Python's
# jsonschema validates the SBOM against CycloneDX 1.6; act runs
# release.yml against the GitHub replica; actionlint (with shellcheck for the
# run: scripts) lints the workflows;
# hyperfine runs the BENCHMARKS.md comparison.
apt-get install -y -qq coreutils tar gzip gnupg git ruby python3 python3-jsonschema hyperfine shellcheck >/dev/null
if ! command -v act >/dev/null 2>&1; then
  go install github.com/nektos/act@v0.2.89
fi
if ! command -v actionlint >/dev/null 2>&1; then
  go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
fi
