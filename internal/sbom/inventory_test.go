package sbom

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/fixturetest"
)

// fixtureInventory reads the dependency files of the v1.5 fixture tree.
func fixtureInventory(t *testing.T) *Inventory {
	t.Helper()
	root := fixturetest.Tree(t, "udos-v1.5")
	inv := NewInventory()
	for _, p := range []string{"uv.lock", "pyproject.toml", "pyproject.udos.toml", "wizard/requirements.txt", "tui/go.mod", "wizard/dashboard/package-lock.json", "dev/requirements-dev.txt"} {
		if !IsInventoryFile(p) {
			t.Fatalf("%s not recognised", p)
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if err := inv.Read(p, data); err != nil {
			t.Fatal(err)
		}
	}
	return inv
}

func TestInventory(t *testing.T) {
	t.Parallel()
	comps := fixtureInventory(t).Components()
	byPURL := map[string]Component{}
	for _, c := range comps {
		byPURL[c.PURL] = c
	}
	// every package of the lock, with its hashes and dependencies
	rich, ok := byPURL["pkg:pypi/rich@13.9.4"]
	if !ok {
		t.Fatalf("rich not listed: %v", comps)
	}
	if len(rich.Hashes) != 2 || rich.Hashes[0] != (Hash{"SHA-256", "439594978a49a09530cff7ebc4b5c7103ef57baf48d5ea3184f21d9a2befa098"}) {
		t.Errorf("rich hashes %v", rich.Hashes)
	}
	if strings.Join(rich.DependsOn, " ") != "pkg:pypi/markdown-it-py@3.0.0 pkg:pypi/pygments@2.18.0" {
		t.Errorf("rich depends on %v", rich.DependsOn)
	}
	if !rich.Direct || strings.Join(rich.Specs, ", ") != "rich>=13.0.0" || strings.Join(rich.Files, ", ") != "pyproject.toml, pyproject.udos.toml, uv.lock" {
		t.Errorf("rich declared %+v", rich)
	}
	if md := byPURL["pkg:pypi/mdurl@0.1.2"]; md.Direct || len(md.Hashes) != 2 {
		t.Errorf("mdurl (transitive) %+v", md)
	}
	if p := byPURL["pkg:pypi/mistral-vibe@1.4.6"]; !p.Project || len(p.Hashes) != 0 {
		t.Errorf("the editable project %+v", p)
	}
	// declared, not locked: unpinned components
	if c, ok := byPURL["pkg:pypi/fastapi"]; !ok || c.Version != "" || c.Files[0] != "pyproject.toml" {
		t.Errorf("fastapi %+v", c)
	}
	if c, ok := byPURL["pkg:pypi/uvicorn"]; !ok || c.Specs[0] != "uvicorn[standard]>=0.23.0" {
		t.Errorf("uvicorn %+v", c)
	}
	if _, ok := byPURL["pkg:pypi/pytest@8.3.3"]; !ok {
		t.Error("pinned dev requirement missing")
	}
	// Go and npm
	if c, ok := byPURL["pkg:golang/github.com/charmbracelet/bubbletea@v0.27.1"]; !ok || !c.Direct {
		t.Errorf("bubbletea %+v", c)
	}
	if c := byPURL["pkg:golang/github.com/muesli/termenv@v0.15.2"]; c.Direct {
		t.Error("indirect Go module marked direct")
	}
	if c := byPURL["pkg:golang/github.com/fredporter/udos/tui"]; !c.Project || len(c.DependsOn) != 2 {
		t.Errorf("Go module %+v", c)
	}
	if c := byPURL["pkg:npm/svelte@4.2.19"]; len(c.Hashes) != 1 || c.Hashes[0].Alg != "SHA-512" || len(c.Hashes[0].Value) != 128 || c.Optional {
		t.Errorf("svelte %+v", c)
	}
	if c := byPURL["pkg:npm/vite@5.4.11"]; !c.Optional {
		t.Errorf("vite (dev) %+v", c)
	}
}

func TestInventoryErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, file, data, want string }{
		{"bad toml", "uv.lock", "version = 1\n[[package]\n", "sbom: reading uv.lock"},
		{"lock version", "uv.lock", "version = 2\n", "uv.lock version 2 is not 1"},
		{"bad hash", "uv.lock", "version = 1\n[[package]]\nname = \"a\"\nversion = \"1\"\nsdist = { hash = \"md5:abc\" }\n", `hash "md5:abc" is not sha256`},
		{"short hash", "uv.lock", "version = 1\n[[package]]\nname = \"a\"\nversion = \"1\"\nsdist = { hash = \"sha256:abc\" }\n", "not 64 hex digits"},
		{"go.mod", "go.mod", "modul x\n", "sbom: reading go.mod"},
		{"npm integrity", "package-lock.json", `{"lockfileVersion": 3, "packages": {"node_modules/a": {"version": "1", "integrity": "sha512-!!"}}}`, "integrity"},
		{"pyproject requirement", "pyproject.toml", "[project]\ndependencies = [\"@@@\"]\n", "not a requirement"},
		{"unknown file", "Pipfile", "", "not a dependency file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewInventory().Read(tt.file, []byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// The SBOM of an inventory is schema-valid, has the lock's graph and is
// the same bytes every time.
func TestGenerateInventory(t *testing.T) {
	t.Parallel()
	in := Input{Variant: "wizard-full", Version: "1.5.0", Archive: "udos-wizard-full-v1.5.0.tar.gz",
		ArchiveSHA256: strings.Repeat("ab", 32), Inventory: fixtureInventory(t), Time: time.Unix(1772625600, 0)}
	doc, err := Generate(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Inventory = fixtureInventory(t)
	again, err := Generate(in)
	if err != nil || string(again) != string(doc) {
		t.Fatalf("not deterministic: %v", err)
	}
	ValidateWithSchema(t, doc)
	var bom struct {
		Dependencies []struct {
			Ref       string   `json:"ref"`
			DependsOn []string `json:"dependsOn"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(doc, &bom); err != nil {
		t.Fatal(err)
	}
	deps := map[string][]string{}
	for _, d := range bom.Dependencies {
		deps[d.Ref] = d.DependsOn
	}
	if got := strings.Join(deps["pkg:pypi/rich@13.9.4"], " "); got != "pkg:pypi/markdown-it-py@3.0.0 pkg:pypi/pygments@2.18.0" {
		t.Errorf("rich's dependencies %q", got)
	}
	subject := strings.Join(deps["pkg:generic/udos-wizard-full@1.5.0"], " ")
	for _, want := range []string{"pkg:pypi/rich@13.9.4", "pkg:pypi/fastapi", "pkg:golang/github.com/fredporter/udos/tui"} {
		if !strings.Contains(subject, want) {
			t.Errorf("the subject does not depend on %s: %s", want, subject)
		}
	}
	if strings.Contains(subject, "mdurl") {
		t.Error("a transitive package is a direct dependency of the subject")
	}
	pk, err := Packages(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(pk) < 7 {
		t.Errorf("Packages lists %d pypi packages", len(pk))
	}
}
