package archtest

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/fredbook/udos-dist/"

type pkg struct {
	ImportPath string
	Dir        string
	Name       string
	Doc        string
	GoFiles    []string
	Imports    []string
}

// load lists every package of the module with `go list`, the same view the
// compiler has (build tags, vendoring), rather than walking folders.
func load(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("go list output: %v", err)
		}
		p.ImportPath = strings.TrimPrefix(p.ImportPath, module)
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages; the test is not looking at the module", len(pkgs))
	}
	return pkgs
}

// commandLayer reports whether a package is a main, an action main or part of
// udos-lib's command layer: the only places that may know about terminals,
// the process environment and exit codes.
func commandLayer(p string) bool {
	return p == "internal/iostreams" || strings.HasPrefix(p, "cmd/") || strings.HasPrefix(p, "actions/") ||
		strings.HasPrefix(p, "internal/cmd/") || strings.HasPrefix(p, "examples/")
}

// testSupport packages exist for tests (fixtures, fake services, the
// skip-or-fail rule); they may read the environment and exit.
func testSupport(p pkg) bool {
	switch p.ImportPath {
	case "internal/testenv", "internal/dockertest", "internal/ghreplica", "internal/archtest":
		return true
	}
	return p.Name == "main" || strings.HasSuffix(p.ImportPath, "test") || strings.Contains(p.ImportPath, "/testsvc")
}

func TestImportRules(t *testing.T) {
	rules := []struct {
		name    string
		imports func(string) bool
		allowed func(pkg) bool
	}{
		{
			name: "only the command layer imports the command layer and iostreams",
			imports: func(i string) bool {
				return strings.HasPrefix(i, module+"internal/cmd/") || i == module+"internal/iostreams"
			},
			allowed: func(p pkg) bool { return commandLayer(p.ImportPath) },
		},
		{
			name:    "only actionkit imports go-githubactions",
			imports: func(i string) bool { return strings.HasPrefix(i, "github.com/sethvargo/go-githubactions") },
			allowed: func(p pkg) bool { return p.ImportPath == "actions/internal/actionkit" },
		},
		{
			name:    "only the GitHub replica's own main, ghtest and tests use the replica",
			imports: func(i string) bool { return i == module+"internal/ghreplica" },
			allowed: func(p pkg) bool {
				return p.ImportPath == "cmd/gh-replica" || p.ImportPath == "internal/ghrelease/ghtest"
			},
		},
		{
			name:    "shipped code never imports test support",
			imports: func(i string) bool { return i == module+"internal/testenv" || i == module+"internal/dockertest" },
			allowed: func(p pkg) bool { return testSupport(p) },
		},
		{
			name:    "terminal and CLI-framework libraries stay in the command layer",
			imports: func(i string) bool { return i == "golang.org/x/term" || strings.HasPrefix(i, "github.com/spf13/cobra") },
			allowed: func(p pkg) bool { return commandLayer(p.ImportPath) },
		},
	}
	pkgs := load(t)
	for _, r := range rules {
		var bad []string
		for _, p := range pkgs {
			if r.allowed(p) {
				continue
			}
			for _, i := range p.Imports {
				if r.imports(i) {
					bad = append(bad, p.ImportPath+" imports "+strings.TrimPrefix(i, module))
				}
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			t.Errorf("%s; broken by:\n  %s\n(see docs/ARCHITECTURE.md, \"What may import what\")", r.name, strings.Join(bad, "\n  "))
		}
	}
}

// forbidden calls in library packages: writers, exits and the environment are
// the command layer's, passed in as values.
var forbidden = map[string]map[string]string{
	"os":     {"Exit": "return an error", "Getenv": "take the value or a getenv func as a parameter", "LookupEnv": "take the value or a getenv func as a parameter", "Environ": "take the environment as a parameter", "Setenv": "pass the value down instead"},
	"fmt":    {"Print": "write to an io.Writer passed in", "Printf": "write to an io.Writer passed in", "Println": "write to an io.Writer passed in"},
	"log":    {"Fatal": "return an error", "Fatalf": "return an error", "Print": "write to an io.Writer passed in", "Printf": "write to an io.Writer passed in", "Println": "write to an io.Writer passed in"},
	"signal": {"Notify": "take a context; the command layer owns signals", "NotifyContext": "take a context; the command layer owns signals"},
}

func TestLibraryPackagesNeverPrintExitOrReadEnv(t *testing.T) {
	for _, p := range load(t) {
		if commandLayer(p.ImportPath) || testSupport(p) {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			names := map[string]string{} // local name -> import path
			for _, im := range file.Imports {
				ip, _ := strconv.Unquote(im.Path.Value)
				local := filepath.Base(ip)
				if im.Name != nil {
					local = im.Name.Name
				}
				names[local] = ip
			}
			ast.Inspect(file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				ip := names[id.Name]
				base := filepath.Base(ip)
				if ip == "os/signal" {
					base = "signal"
				}
				if fix, bad := forbidden[base][sel.Sel.Name]; bad && (ip == base || ip == "os/signal") {
					t.Errorf("%s: %s.%s in library package %s: %s (see docs/ARCHITECTURE.md)", fset.Position(sel.Pos()), id.Name, sel.Sel.Name, p.ImportPath, fix)
				}
				return true
			})
		}
	}
}

func TestEveryPackageSaysWhatItIs(t *testing.T) {
	for _, p := range load(t) {
		if p.Name == "" || len(p.GoFiles) == 0 {
			continue
		}
		if want := "Package " + p.Name + " "; p.Name != "main" && !strings.HasPrefix(p.Doc, strings.TrimSpace(want)) {
			t.Errorf("%s: no \"// Package %s …\" comment (doc is %q)", p.ImportPath, p.Name, p.Doc)
		}
	}
}
