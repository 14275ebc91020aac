package relmanifest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/jsonschema"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// SeedSchema is the JSON Schema of the seed's release manifest.
const seedSchema = "testdata/seed-manifest.schema.json"

// validateSeed checks doc against the seed's schema twice: with the
// repository's validator, and with python's jsonschema (Draft 2020-12, with
// format checking), the reference implementation.
func validateSeed(t *testing.T, doc []byte) error {
	t.Helper()
	schema, err := os.ReadFile(seedSchema)
	if err != nil {
		t.Fatal(err)
	}
	goErr := jsonschema.Validate(schema, doc)
	py := testenv.Tool(t, "python3")
	if err := exec.Command(py, "-c", "import jsonschema").Run(); err != nil {
		testenv.Missing(t, "python3 jsonschema")
	}
	p := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(p, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, pyErr := exec.Command(py, "testdata/validate.py", seedSchema, p).CombinedOutput()
	if (goErr == nil) != (pyErr == nil) {
		t.Errorf("the validators disagree: internal/jsonschema says %v, python jsonschema says %v: %s", goErr, pyErr, out)
	}
	return goErr
}

func TestSeedSchema(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile("testdata/manifest.golden")
	if err != nil {
		t.Fatal(err)
	}
	if err := validateSeed(t, good); err != nil {
		t.Fatalf("the golden manifest does not validate: %v", err)
	}
	// The schema can fail: each of these breaks one rule of the seed.
	bad := []struct{ name, from, to, want string }{
		{"variants as a map", `"variants": [`, `"variants": {"x": 1}, "old": [`, "$.variants: expected array"},
		{"relative url", `"url": "https://github.com/fredbook/uDOS/releases/download/v1.4.6/udos-core-slim-v1.4.6.tar.gz"`, `"url": "udos-core-slim-v1.4.6.tar.gz"`, "url"},
		{"old platform name", `"linux-amd64",` + "\n        \"linux-arm64\"", `"linux",` + "\n        \"linux-arm64\"", "platforms"},
		{"date alone", `"2026-11-25T12:00:00Z"`, `"2026-11-25"`, "release_date"},
		{"no armored signature", `"gpg_signature": "-----BEGIN`, `"gpg_signature": "x-----BEGIN`, "gpg_signature"},
		{"upper-case digest", `"checksum_sha256": "aaaa`, `"checksum_sha256": "AAAA`, "checksum_sha256"},
		{"no release notes", `"release_notes": "https://github.com/fredbook/uDOS/releases/tag/v1.4.6",`, ``, "release_notes"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := strings.Replace(string(good), tc.from, tc.to, 1)
			if doc == string(good) {
				t.Fatalf("the edit %q did not apply", tc.from)
			}
			if err := validateSeed(t, []byte(doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one about %s", err, tc.want)
			}
		})
	}
}
