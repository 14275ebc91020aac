package sbom

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/goldentest"
)

func TestParseRequirements(t *testing.T) {
	t.Parallel()
	in := `# uDOS core
rich==13.7.1
prompt-toolkit==3.0.43   # the TUI
PyYAML==6.0.1
uvicorn[standard]==0.29.0
httpx>=0.27.0
-r ../requirements.txt
--index-url https://pypi.org/simple
tomli==2.0.1 ; python_version < "3.11"
Django>=4.2,<5
zope.interface == 6.2
git+https://example.org/x.git#egg=x
`
	got, err := ParseRequirements(strings.NewReader(in), "requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, norm, version, spec, extras, marker, purl string }{
		{"rich", "rich", "13.7.1", "==13.7.1", "", "", "pkg:pypi/rich@13.7.1"},
		{"prompt-toolkit", "prompt-toolkit", "3.0.43", "==3.0.43", "", "", "pkg:pypi/prompt-toolkit@3.0.43"},
		{"PyYAML", "pyyaml", "6.0.1", "==6.0.1", "", "", "pkg:pypi/pyyaml@6.0.1"},
		{"uvicorn", "uvicorn", "0.29.0", "==0.29.0", "standard", "", "pkg:pypi/uvicorn@0.29.0"},
		{"httpx", "httpx", "", ">=0.27.0", "", "", "pkg:pypi/httpx"},
		{"tomli", "tomli", "2.0.1", "==2.0.1", "", `python_version < "3.11"`, "pkg:pypi/tomli@2.0.1"},
		{"Django", "django", "", ">=4.2,<5", "", "", "pkg:pypi/django"},
		{"zope.interface", "zope-interface", "6.2", "==6.2", "", "", "pkg:pypi/zope-interface@6.2"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d requirements: %+v", len(got), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Normalized != w.norm || g.Version != w.version || g.Spec != w.spec ||
			g.Extras != w.extras || g.Marker != w.marker || g.PURL() != w.purl {
			t.Errorf("%d: got %+v (purl %s), want %+v", i, g, g.PURL(), w)
		}
	}
	if _, err := ParseRequirements(strings.NewReader("ok==1\n@@@\n"), "r.txt"); err == nil || !strings.Contains(err.Error(), "r.txt:2") {
		t.Errorf("bad line: %v", err)
	}
}

func sample(t *testing.T) Input {
	t.Helper()
	core, err := ParseRequirements(strings.NewReader("rich==13.7.1\nPyYAML==6.0.1\nhttpx>=0.27\n"), "requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	wiz, err := ParseRequirements(strings.NewReader("fastapi==0.110.0\nuvicorn[standard]==0.29.0\nhttpx>=0.27.0\n"), "wizard/requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	return Input{
		Variant: "wizard-full", Version: "1.4.6",
		Archive:       "udos-wizard-full-v1.4.6.tar.gz",
		ArchiveSHA256: strings.Repeat("a", 64), ArchiveSHA512: strings.Repeat("b", 128),
		Requirements: append(core, wiz...),
		Files: []File{
			{Path: "wizard/server.py", SHA256: strings.Repeat("1", 64)},
			{Path: "README.md", SHA256: strings.Repeat("2", 64)},
		},
		Time:        time.Unix(1764072000, 0),
		ToolVersion: "1.0.0",
	}
}

func TestGenerateGolden(t *testing.T) {
	t.Parallel()
	in := sample(t)
	got, err := Generate(in)
	if err != nil {
		t.Fatal(err)
	}
	goldentest.Compare(t, filepath.Join("testdata", "wizard-full.cdx.golden"), got)
	// Input order does not matter.
	in.Files[0], in.Files[1] = in.Files[1], in.Files[0]
	in.Requirements[0], in.Requirements[4] = in.Requirements[4], in.Requirements[0]
	again, _ := Generate(in)
	if string(again) != string(got) {
		t.Error("output depends on input order")
	}
	pk, err := Packages(got)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pk {
		names = append(names, p.Name+"@"+p.Version)
	}
	if strings.Join(names, " ") != "fastapi@0.110.0 httpx@ pyyaml@6.0.1 rich@13.7.1 uvicorn@0.29.0" {
		t.Errorf("Packages = %v", names)
	}
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["specVersion"] != "1.6" || !strings.HasPrefix(doc["serialNumber"].(string), "urn:uuid:") {
		t.Errorf("header: %v %v", doc["specVersion"], doc["serialNumber"])
	}
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	in := sample(t)
	in.Files = append(in.Files, in.Files[0])
	if _, err := Generate(in); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate file: %v", err)
	}
	if _, err := Generate(Input{}); err == nil {
		t.Error("empty input accepted")
	}
}

func TestDiffPackages(t *testing.T) {
	t.Parallel()
	prev := []Package{{Name: "rich", Version: "13.7.0"}, {Name: "requests", Version: "2.31.0"}, {Name: "httpx"}}
	cur := []Package{{Name: "rich", Version: "13.7.1"}, {Name: "fastapi", Version: "0.110.0"}, {Name: "httpx"}}
	got := DiffPackages(prev, cur)
	want := []PackageChange{{"fastapi", "", "0.110.0"}, {"requests", "2.31.0", ""}, {"rich", "13.7.0", "13.7.1"}}
	if len(got) != len(want) {
		t.Fatalf("DiffPackages = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestSchema validates the generated SBOM against the official CycloneDX 1.6
// JSON schema (shipped in the cyclonedx-go module) with Python's jsonschema.
func TestSchema(t *testing.T) {
	t.Parallel()
	ValidateWithSchema(t, mustGenerate(t))
}

func mustGenerate(t *testing.T) []byte {
	got, err := Generate(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// ValidateWithSchema fails t when doc does not validate against the
// CycloneDX 1.6 JSON schema.
func ValidateWithSchema(t *testing.T, doc []byte) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import jsonschema").Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 with jsonschema needed: %v", err)
		}
		t.Skipf("python3 with jsonschema needed: %v", err)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	if err != nil {
		t.Fatalf("locating cyclonedx-go schemas: %v", err)
	}
	schemaDir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	p := filepath.Join(t.TempDir(), "bom.json")
	if err := os.WriteFile(p, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs(filepath.Join("testdata", "validate.py"))
	res, err := exec.Command(py, script, schemaDir, p).CombinedOutput()
	if err != nil {
		t.Fatalf("CycloneDX 1.6 schema validation failed: %v\n%s", err, res)
	}
	// The validator must be able to fail: a broken document is refused.
	var m map[string]any
	_ = json.Unmarshal(doc, &m)
	m["specVersion"] = 16
	bad, _ := json.Marshal(m)
	if err := os.WriteFile(p, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(py, script, schemaDir, p).Run(); err == nil {
		t.Fatal("validator accepted a broken document")
	}
}
