package variant

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/fixturetest"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// materialize writes a layout's entries under dir, as extracting its
// archive would, and returns the variant's root.
func materialize(t *testing.T, l *Layout, dir string) string {
	t.Helper()
	for _, e := range l.Entries {
		p := filepath.Join(dir, filepath.FromSlash(e.Name))
		if e.IsDir() {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if e.Mode&0o111 != 0 {
			mode = 0o755
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, l.Root)
}

// stage stages the built-in variant name from src at version, which must
// succeed.
func stage(t *testing.T, name, src, version string) (*Layout, []Warning) {
	t.Helper()
	v, err := Builtin().Get(name)
	if err != nil {
		t.Fatal(err)
	}
	l, warnings, err := v.Stage(context.Background(), src, Options{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	return l, warnings
}

func warningsText(ws []Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(w.String() + "\n")
	}
	return b.String()
}

// The built-in definitions stage both fixture layouts with no variants
// file, only what git tracks ships, and every variant starts.
func TestStageFixtures(t *testing.T) {
	t.Parallel()
	python := testenv.Tool(t, "python3")
	fixturetest.Each(t, func(t *testing.T, fx, src, version string) {
		for _, name := range []string{"core-slim", "wizard-full", "dev-complete"} {
			t.Run(name, func(t *testing.T) {
				l, warnings := stage(t, name, src, version)
				if !l.Git {
					t.Error("the checkout was not read as a git checkout")
				}
				ws := warningsText(warnings)
				root := materialize(t, l, t.TempDir())
				for _, p := range append([]string{"tests", "wizard/tests", "core/tests", "docs/.obsidian", "docs/.compost"}, fixturetest.IgnoredPaths...) {
					if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
						t.Errorf("%s shipped", p)
					}
				}
				launcher := map[string]string{"udos-v1.4": "wizard/services/udos_launcher_service.py", "udos-v1.5": "wizard/services/udos_launcher_cli.py"}[fx]
				for _, p := range []string{"uDOS.py", "bin/uDOS.py", "bin/udos", "bin/ucode", "bin/ucli", "extensions/__init__.py", launcher, "version.json"} {
					if fi, err := os.Stat(filepath.Join(root, p)); err != nil {
						t.Errorf("%s not shipped: %v", p, err)
					} else if strings.HasPrefix(p, "bin/") && fi.Mode()&0o111 == 0 {
						t.Errorf("%s not executable", p)
					}
				}
				if name == "core-slim" {
					if !contains(l.Closure, launcher) {
						t.Errorf("import closure %v lacks the launcher", l.Closure)
					}
					if _, err := os.Stat(filepath.Join(root, "wizard/config/wizard.json")); err == nil {
						t.Error("core-slim shipped wizard/config, which no module of the closure is")
					}
					if _, err := os.Stat(filepath.Join(root, "wizard/dashboard/package.json")); err == nil {
						t.Error("core-slim shipped the dashboard, which no code of the closure names")
					}
				}
				if name == "core-slim" && fx == "udos-v1.5" {
					// The store opens ../schemas/task_schema.sql beside its
					// code: package data the closure names ships, what sits
					// beside it unnamed does not.
					if !contains(l.Closure, "wizard/services/schemas/task_schema.sql") {
						t.Errorf("the closure %v lacks the store's schema", l.Closure)
					}
					if _, err := os.Stat(filepath.Join(root, "wizard/services/schemas/README.md")); err == nil {
						t.Error("core-slim shipped wizard/services/schemas/README.md, which no code names")
					}
				}
				if fx == "udos-v1.5" {
					if data, err := os.ReadFile(filepath.Join(root, "core/framework/seed/bank/system/themes/amber.json")); err != nil || !strings.Contains(string(data), "amber") {
						t.Errorf("the seed symlink's content did not ship: %v", err)
					}
					if !strings.Contains(ws, "core/dist is a dangling symlink (-> ../dev/build-artifacts/core/dist); skipped") {
						t.Errorf("no warning for the dangling core/dist:\n%s", ws)
					}
				}
				if strings.Contains(ws, "spec's CLI") {
					t.Errorf("a warning calls ucli the spec's CLI:\n%s", ws)
				}
				if name != "core-slim" {
					for _, p := range []string{"distribution/jekyll-site-template/_config.yml", "DOCKER-OPERATIONS.md", "LIBRARY-MANAGEMENT.md", "bin/wizard-server", "pyproject.toml", "docker-compose.yml"} {
						if _, err := os.Stat(filepath.Join(root, p)); err != nil {
							t.Errorf("%s not shipped: %v", p, err)
						}
					}
					data, err := os.ReadFile(filepath.Join(root, "distribution/local-library-catalog.json"))
					if err != nil {
						t.Fatal(err)
					}
					if c, err := catalog.Parse(data); err != nil || len(c.Libraries) != 0 {
						t.Errorf("supplied catalog: %v", err)
					}
				}
				// Start it: a venv where bin/udos looks for one, then the launcher.
				if out, err := exec.Command(python, "-m", "venv", "--without-pip", filepath.Join(root, ".venv")).CombinedOutput(); err != nil {
					t.Fatalf("venv: %v\n%s", err, out)
				}
				want := map[string]string{"udos-v1.5": "uDOS v1.5.0 launcher: tui (root " + l.Root + ")", "udos-v1.4": "uCODE v1.4.0 ready (root " + l.Root + ")"}[fx]
				if got := fixturetest.FirstLine(t, root, nil, python, "uDOS.py"); got != want {
					t.Errorf("python3 uDOS.py: first line %q, want %q", got, want)
				}
				if got := fixturetest.FirstLine(t, root, nil, python, "bin/uDOS.py"); got != want {
					t.Errorf("python3 bin/uDOS.py: first line %q, want %q", got, want)
				}
				if fx == "udos-v1.5" {
					if got := fixturetest.FirstLine(t, root, nil, "bin/ucli", "--help"); !strings.HasPrefix(got, "usage: udos") && !strings.HasPrefix(got, "uDOS v1.5.0 launcher") {
						t.Errorf("bin/ucli: %q", got)
					}
				}
			})
		}
	})
}

// Tracked secrets refuse the variant, every one named and none printed;
// the remedies (allow by path, untrack) let it build.
func TestStageSecrets(t *testing.T) {
	t.Parallel()
	src := fixturetest.Repo(t, "udos-v1.5", fixturetest.Options{Secrets: true})
	v, _ := Builtin().Get("wizard-full")
	_, _, err := v.Stage(context.Background(), src, Options{Version: "1.5.0"})
	var se *SecretsError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want SecretsError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"wizard/config/.oauth_key: OAuth key file",
		"wizard/config/deploy.env:2: GitHub token",
		"wizard/config/deploy.env:2: GITHUB_TOKEN is set in a dotenv file",
		"wizard/config/tls/server.key.pem:1: private key (PEM)",
		"git rm --cached", `"allow_secrets": [`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "ghp_") || strings.Contains(msg, "BEGIN EC") || strings.Contains(msg, "example") {
		t.Errorf("error shows a secret or flags the template:\n%s", msg)
	}
	oauth, _ := os.ReadFile(filepath.Join(src, "wizard/config/.oauth_key"))
	if len(oauth) != 44 || strings.Contains(msg, string(oauth)) {
		t.Errorf("oauth key of %d characters, or printed", len(oauth))
	}

	// Allowed by path in the variants file: those findings go.
	write(t, src, FileName, `{"allow_secrets": ["wizard/config/.oauth_key", "wizard/config/deploy.env"]}`, 0o644)
	set, err := Load(filepath.Join(src, FileName))
	if err != nil {
		t.Fatal(err)
	}
	v, _ = set.Get("wizard-full")
	_, _, err = v.Stage(context.Background(), src, Options{Version: "1.5.0"})
	if !errors.As(err, &se) || len(se.Findings) != 1 || se.Findings[0].Path != "wizard/config/tls/server.key.pem" {
		t.Fatalf("with allow_secrets: %v", err)
	}

	// Untracked: the variant builds and none of them ships.
	fixturetest.Untrack(t, src, fixturetest.SecretPaths...)
	l, _ := stage(t, "wizard-full", src, "1.5.0")
	for _, p := range fixturetest.SecretPaths {
		if _, ok := l.Sources[p]; ok {
			t.Errorf("%s shipped", p)
		}
	}
}

func TestScanSecrets(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + strings.Repeat("x9", 18)
	tests := []struct {
		name, file, data string
		want             []string
	}{
		{"env template", ".env.example", "API_KEY=\nTOKEN=changeme\nSECRET=<your secret>\nPASSWORD=${PASSWORD}\n", nil},
		{"env values", ".env", "# comment\nPORT=8765\nAPI_KEY=abc123def\nexport DB_PASSWORD='hunter22'\n", []string{".env:3: API_KEY is set in a dotenv file", ".env:4: DB_PASSWORD is set in a dotenv file"}},
		{"named env", "wizard/prod.env", "SLACK_TOKEN=xoxb-1234567890-abcdef\n", []string{"wizard/prod.env:1: Slack token", "wizard/prod.env:1: SLACK_TOKEN is set in a dotenv file"}},
		{"token in code", "core/x.py", "TOKEN = '" + tok + "'\n", []string{"core/x.py:1: GitHub token"}},
		{"pem", "keys/k.pem", "x\n-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", []string{"keys/k.pem:2: private key (PEM)"}},
		{"public key", "keys/k.pub", "-----BEGIN PUBLIC KEY-----\n", nil},
		{"oauth key", "wizard/config/.oauth_key", "abc", []string{"wizard/config/.oauth_key: OAuth key file"}},
		{"ssh key name", "home/.ssh/id_ed25519", "", []string{"home/.ssh/id_ed25519: SSH private key file"}},
		{"doc about tokens", "docs/TOKENS.md", "Set GITHUB_TOKEN=... in your environment.\n", nil},
		{"binary", "fonts/x.ttf", "\x00\x01" + tok, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ScanSecrets(tt.file, strings.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			var gs []string
			for _, f := range got {
				gs = append(gs, f.String())
			}
			if strings.Join(gs, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, want %q", gs, tt.want)
			}
		})
	}
}

// symlinkTree is a small non-git tree with the given links added.
func symlinkTree(t *testing.T, links map[string]string) string {
	t.Helper()
	src := t.TempDir()
	copyTree(t, fixture, src)
	write(t, src, "dev/goblin/seed/bank/a.json", "{}\n", 0o644)
	write(t, src, "dev/goblin/seed/bank/nested/b.json", "{}\n", 0o644)
	for from, to := range links {
		p := filepath.Join(src, filepath.FromSlash(from))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(p); err != nil { // a link replacing a directory (docs -> ...)
			t.Fatal(err)
		}
		if err := os.Symlink(to, p); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

func TestStageSymlinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		links   map[string]string
		exclude string
		ships   map[string]string // variant path -> checkout path it comes from
		absent  []string
		warn    []string
		wantErr []string
	}{
		{name: "directory in the tree ships as its content",
			links: map[string]string{"core/framework/seed": "../../dev/goblin/seed"},
			ships: map[string]string{"core/framework/seed/bank/a.json": "dev/goblin/seed/bank/a.json", "core/framework/seed/bank/nested/b.json": "dev/goblin/seed/bank/nested/b.json"}},
		{name: "file in the tree",
			links: map[string]string{"core/LICENSE": "../README.md"},
			ships: map[string]string{"core/LICENSE": "README.md"}},
		{name: "chain of links",
			links: map[string]string{"dev/current": "goblin", "core/seed": "../dev/current/seed"},
			ships: map[string]string{"core/seed/bank/a.json": "dev/goblin/seed/bank/a.json"}},
		{name: "dangling is skipped with a warning",
			links:  map[string]string{"core/dist": "../dev/build-artifacts/core/dist"},
			absent: []string{"core/dist"},
			warn:   []string{"core/dist is a dangling symlink (-> ../dev/build-artifacts/core/dist); skipped"}},
		{name: "excluded by path: no word",
			links:   map[string]string{"core/dist": "../dev/build-artifacts/core/dist", "core/out": "/etc"},
			exclude: `"core/dist", "core/out"`,
			absent:  []string{"core/dist", "core/out"}},
		{name: "every link out of the tree is named at once",
			links: map[string]string{"core/passwd": "/etc/passwd", "core/up": "../../outside", "core/ok": "../README.md"},
			wantErr: []string{"2 symlink(s) point out of the source tree", "symlink core/passwd -> /etc/passwd", "symlink core/up -> ../../outside",
				`"exclude": ["core/passwd"]`}},
		{name: "a loop is refused",
			links:   map[string]string{"core/self": "..", "core/again": "."},
			wantErr: []string{"form a loop", "symlink core/again -> .", "symlink core/self -> .."}},
		{name: "a declared path through a link out of the tree",
			links:   map[string]string{"docs": "/usr/share/doc"},
			wantErr: []string{"symlink docs -> /usr/share/doc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := symlinkTree(t, tt.links)
			v, _ := Builtin().Get("core-slim")
			if tt.exclude != "" {
				write(t, src, FileName, `{"variants": {"x": {"extends": "core-slim", "exclude": [`+tt.exclude+`], "paths": []}}}`, 0o644)
				set, err := Load(filepath.Join(src, FileName))
				if err != nil {
					t.Fatal(err)
				}
				v, _ = set.Get("x")
			}
			l, warnings, err := v.Stage(context.Background(), src, Options{Version: "1.4.6"})
			if len(tt.wantErr) > 0 {
				var se *SymlinkError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want SymlinkError", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for dst, from := range tt.ships {
				if got := l.Sources[dst]; got != filepath.Join(src, filepath.FromSlash(from)) {
					t.Errorf("%s comes from %q, want %s", dst, got, from)
				}
			}
			for _, p := range tt.absent {
				for name := range l.Sources {
					if name == p || strings.HasPrefix(name, p+"/") {
						t.Errorf("%s shipped", name)
					}
				}
			}
			ws := warningsText(warnings)
			for _, w := range tt.warn {
				if !strings.Contains(ws, w) {
					t.Errorf("warnings lack %q:\n%s", w, ws)
				}
			}
			if len(tt.warn) == 0 && strings.Contains(ws, "symlink") {
				t.Errorf("unexpected symlink warning:\n%s", ws)
			}
		})
	}
}

func TestPathExcludes(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	copyTree(t, fixture, src)
	write(t, src, "docs/.compost/old.md", "x\n", 0o644)
	write(t, src, "docs/.obsidian/app.json", "{}\n", 0o644)
	write(t, src, "docs/drafts/a.md", "x\n", 0o644)
	write(t, src, "core/tests/test_x.py", "x\n", 0o644)
	write(t, src, FileName, `{"variants": {"x": {"extends": "core-slim", "exclude": ["docs/drafts"], "paths": []}}}`, 0o644)
	set, err := Load(filepath.Join(src, FileName))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := set.Get("x")
	l, _, err := v.Stage(context.Background(), src, Options{Version: "1.4.6"})
	if err != nil {
		t.Fatal(err)
	}
	for name := range l.Sources {
		for _, p := range []string{"docs/.compost/", "docs/.obsidian/", "docs/drafts/", "core/tests/"} {
			if strings.HasPrefix(name, p) {
				t.Errorf("%s shipped", name)
			}
		}
	}
	if _, ok := l.Sources["docs/ARCHITECTURE.md"]; !ok {
		t.Error("docs/ARCHITECTURE.md left out")
	}
}

func TestPyImports(t *testing.T) {
	t.Parallel()
	src := `import os, sys
import core.services.path_service as ps
from wizard.services import udos_launcher_cli, path_utils as pu
from . import sibling
from ..pkg import (
    one,
    two,  # comment
)
from .mod import x
def f():
    import extensions.api
    mod = importlib.import_module("core.commands.help")
# import commented.out
x = 1; import y.z
`
	got := strings.Join(pyImports([]byte(src), "wizard.services"), " ")
	want := "os sys core.services.path_service wizard.services wizard.services.udos_launcher_cli wizard.services.path_utils " +
		"wizard.services wizard.services.sibling wizard.pkg wizard.pkg.one wizard.pkg.two wizard.services.mod wizard.services.mod.x " +
		"extensions.api core.commands.help y.z"
	if got != want {
		t.Errorf("pyImports:\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(shellModules([]byte("exec \"$PY\" -m wizard.services.udos_launcher_cli \"$@\"\nuv run -m a.b\n")), " "); got != "wizard.services.udos_launcher_cli a.b" {
		t.Errorf("shellModules: %s", got)
	}
}

func TestDockerCopySources(t *testing.T) {
	t.Parallel()
	df := "FROM python:3.11 AS b\nCOPY pyproject.toml ./\nCOPY --from=b /opt/venv /opt/venv\nCOPY --chown=udos:udos core/ \\\n  wizard/ /app/\n# COPY secret.txt /\nADD https://example.com/x.tgz /x\nCOPY [\"a b\", \"/c\"]\n"
	got := strings.Join(dockerCopySources([]byte(df)), " ")
	if got != "pyproject.toml core/ wizard/" {
		t.Errorf("got %q", got)
	}
}

// Outside git every file ships, and the build says so.
func TestStageNotGit(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	copyTree(t, fixture, src)
	l, warnings := stage(t, "core-slim", src, "1.4.6")
	if l.Git || !strings.Contains(warningsText(warnings), "is not a git checkout: every file in it ships") {
		t.Errorf("git %v, warnings:\n%s", l.Git, warningsText(warnings))
	}
	sc := bufio.NewScanner(strings.NewReader(warningsText(warnings)))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "spec's CLI") {
			t.Error(sc.Text())
		}
	}
}

func TestSuppliedCatalogAndCompose(t *testing.T) {
	t.Parallel()
	src := fixturetest.Repo(t, "udos-v1.5", fixturetest.Options{})
	write(t, src, FileName, `{"compose": {"port": 8765, "health_path": "/health"}}`, 0o644)
	set, err := Load(filepath.Join(src, FileName))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := set.Get("wizard-full")
	given := &catalog.Catalog{CatalogVersion: "1.0", Serial: 7, LastUpdated: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), Expires: time.Date(2026, 4, 4, 0, 0, 0, 0, time.UTC)}
	data, err := given.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := v.Stage(context.Background(), src, Options{Version: "1.5.0", Catalog: data})
	if err != nil {
		t.Fatal(err)
	}
	root := materialize(t, l, t.TempDir())
	got, _ := os.ReadFile(filepath.Join(root, "distribution/local-library-catalog.json"))
	if string(got) != string(data) {
		t.Errorf("shipped catalog %s, want the given one", got)
	}
	compose, _ := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if !strings.Contains(string(compose), `"127.0.0.1:8765:8765"`) || !strings.Contains(string(compose), "http://127.0.0.1:8765/health'") {
		t.Errorf("compose does not use the variants file's port and health path:\n%s", compose)
	}
	// The action's inputs win over the file.
	l, _, err = v.Stage(context.Background(), src, Options{Version: "1.5.0", Compose: ComposeOptions{Port: 9100}})
	if err != nil {
		t.Fatal(err)
	}
	root = materialize(t, l, t.TempDir())
	compose, _ = os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if !strings.Contains(string(compose), "http://127.0.0.1:9100/health'") {
		t.Errorf("the input's port did not win:\n%s", compose)
	}
	if _, _, err := v.Stage(context.Background(), src, Options{Version: "1.5.0", Catalog: []byte(`{"catalog_version": "1.0"}`)}); err == nil || !strings.Contains(err.Error(), "the given library catalog") {
		t.Errorf("invalid catalog: %v", err)
	}
	write(t, src, FileName, `{"compose": {"port": 70000}}`, 0o644)
	if _, err := Load(filepath.Join(src, FileName)); err == nil || !strings.Contains(err.Error(), "port 70000 out of range") {
		t.Errorf("bad port: %v", err)
	}
}

// A folder git tracks nothing of, inside a work tree, is staged as a plain
// folder rather than as an empty checkout.
func TestStageUntrackedFolderInGit(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "git")
	outer := t.TempDir()
	fixturetest.Git(t, outer, "init", "-q")
	src := filepath.Join(outer, "unpacked")
	copyTree(t, fixture, src)
	l, warnings := stage(t, "core-slim", src, "1.4.6")
	if l.Git || !strings.Contains(warningsText(warnings), "is not a git checkout") {
		t.Errorf("git %v, warnings:\n%s", l.Git, warningsText(warnings))
	}
	if _, ok := l.Sources["core/__init__.py"]; !ok {
		t.Error("core/ not staged")
	}
}

func TestDockerfileHealth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		df   string
		port int
		path string
		ok   bool
	}{
		{"FROM x\nHEALTHCHECK CMD curl -f http://localhost:8765/health || exit 1\n", 8765, "/health", true},
		{"HEALTHCHECK --interval=30s CMD [\"wget\", \"-qO-\", \"http://127.0.0.1:9000/api/health\"]\n", 9000, "/api/health", true},
		{"HEALTHCHECK NONE\n", 0, "", false},
		{"HEALTHCHECK CMD pgrep wizard\n", 0, "", false},
		{"HEALTHCHECK CMD curl http://example.com:8765/health\n", 0, "", false},
		{"FROM x\n", 0, "", false},
	}
	for _, tt := range tests {
		port, p, ok := DockerfileHealth([]byte(tt.df))
		if port != tt.port || p != tt.path || ok != tt.ok {
			t.Errorf("%q: %d %q %v", tt.df, port, p, ok)
		}
	}
}

// With nothing set, the compose file checks what the Dockerfile's
// HEALTHCHECK checks (the real Wizard: 8765, /health).
func TestComposeFromDockerfile(t *testing.T) {
	t.Parallel()
	src := fixturetest.Repo(t, "udos-v1.5", fixturetest.Options{})
	l, warnings := stage(t, "wizard-full", src, "1.5.0")
	root := materialize(t, l, t.TempDir())
	compose, _ := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if !strings.Contains(string(compose), "http://127.0.0.1:8765/health'") || l.Compose.Port != 8765 {
		t.Errorf("compose does not check the Dockerfile's endpoint:\n%s", compose)
	}
	if !strings.Contains(warningsText(warnings), "as the Dockerfile's HEALTHCHECK does") {
		t.Errorf("no warning says where the port came from:\n%s", warningsText(warnings))
	}
}
