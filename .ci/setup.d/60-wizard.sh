# The Wizard: the vulnerability gate's tests run the real Trivy (offline,
# against a DB the test writes); BENCHMARKS.md compares `udos-lib wizard up`
# with Debian's docker-compose 1.29. The Docker engine itself runs before CI.
apt-get install -y -qq docker-compose >/dev/null
if ! command -v trivy >/dev/null 2>&1; then
  # Trivy v0.74 needs encoding/json/v2.
  GOEXPERIMENT=jsonv2 go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0
fi
