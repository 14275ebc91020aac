package libid

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	grid := Ref{ID: "lib-grid-extensions", Namespace: "@uDOS/grid-extensions", Short: "grid-extensions", InstallPath: "library/grid-extensions"}
	core := Ref{ID: "lib-core", Namespace: "@uDOS/core", Short: "core", Core: true}
	tests := []struct {
		name, in string
		want     Ref
	}{
		{"id", "lib-grid-extensions", grid},
		{"namespace", "@uDOS/grid-extensions", grid},
		{"namespace any case scope", "@udos/grid-extensions", grid},
		{"short", "grid-extensions", grid},
		{"blanks trimmed", "  grid-extensions\n", grid},
		{"digits", "crawler3d", Ref{ID: "lib-crawler3d", Namespace: "@uDOS/crawler3d", Short: "crawler3d", InstallPath: "library/crawler3d"}},
		{"starts with digit", "3d", Ref{ID: "lib-3d", Namespace: "@uDOS/3d", Short: "3d", InstallPath: "library/3d"}},
		{"one letter", "x", Ref{ID: "lib-x", Namespace: "@uDOS/x", Short: "x", InstallPath: "library/x"}},
		{"core short", "core", core},
		{"core id", "lib-core", core},
		{"core namespace", "@uDOS/core", core},
		{"longest", strings.Repeat("a", 64), Ref{ID: "lib-" + strings.Repeat("a", 64), Namespace: "@uDOS/" + strings.Repeat("a", 64), Short: strings.Repeat("a", 64), InstallPath: "library/" + strings.Repeat("a", 64)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.String() != tt.want.ID {
				t.Errorf("String() = %q, want %q", got.String(), tt.want.ID)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, problem string
	}{
		{"empty", "", "empty name"},
		{"blank", "  ", "empty name"},
		{"dot dot", "..", `".." is not allowed`},
		{"dot dot in id", "lib-..", `".." is not allowed`},
		{"traversal in namespace", "@uDOS/../etc", "no slashes"},
		{"slash", "grid/extensions", "no slashes"},
		{"backslash", `grid\extensions`, "no slashes"},
		{"namespace extra slash", "@uDOS/grid/x", "no slashes"},
		{"namespace without name", "@uDOS/", "nothing after @uDOS/"},
		{"scope alone", "@uDOS", "written @uDOS/<name>"},
		{"other scope", "@acme/grid", `unknown scope "@acme"`},
		{"id without name", "lib-", `nothing after "lib-"`},
		{"uppercase", "Grid-Extensions", `lowercase (did you mean "grid-extensions"?)`},
		{"underscore", "grid_extensions", `character '_' is not allowed`},
		{"space", "grid extensions", `character ' ' is not allowed`},
		{"dot", "grid.ext", `character '.' is not allowed`},
		{"unicode", "grïd", `character 'ï' is not allowed`},
		{"leading hyphen", "-grid", "starts or ends with '-'"},
		{"trailing hyphen", "grid-", "starts or ends with '-'"},
		{"double hyphen", "grid--ext", "contains '--'"},
		{"double lib prefix", "lib-lib-grid", `must not itself start with "lib-"`},
		{"namespace with lib prefix", "@uDOS/lib-grid", `must not itself start with "lib-"`},
		{"too long", strings.Repeat("a", 65), "longer than 64"},
		{"version attached", "grid@1.0", `character '@' is not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error", tt.in, got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("Parse(%q) error %q, want it to mention %q", tt.in, err, tt.problem)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tt.in)) {
				t.Errorf("error %q does not name the input", err)
			}
		})
	}
}

func TestIsCore(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"@uDOS/core": true, "core": true, "lib-core": true, "@udos/core": true,
		"core-tools": false, "lib-core-tools": false, "grid": false, "": false, "Core": false, "@acme/core": false,
	} {
		if got := IsCore(name); got != want {
			t.Errorf("IsCore(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSplitSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, spec, wantName, wantConstraint, wantErr string
	}{
		{"short with caret", "grid-extensions@^1.2", "grid-extensions", "^1.2", ""},
		{"namespace with caret", "@uDOS/grid-extensions@^1.2.0", "@uDOS/grid-extensions", "^1.2.0", ""},
		{"namespace alone", "@uDOS/grid-extensions", "@uDOS/grid-extensions", "", ""},
		{"id alone", "lib-grid-extensions", "lib-grid-extensions", "", ""},
		{"id with range", "lib-grid-extensions@>=1.0 <2", "lib-grid-extensions", ">=1.0 <2", ""},
		{"exact", "grid@1.2.3", "grid", "1.2.3", ""},
		{"or", "grid@^1 || ^2", "grid", "^1 || ^2", ""},
		{"core", "@uDOS/core@>=1.4", "@uDOS/core", ">=1.4", ""},
		{"nothing after at", "grid@", "", "", "nothing after '@'"},
		{"blank after at", "grid@  ", "", "", "nothing after '@'"},
		{"bad name", "Grid@^1", "", "", `"Grid@^1"`},
		{"only at", "@", "", "", "invalid library name"},
		{"empty", "", "", "", "empty name"},
		{"scope only", "@uDOS@^1", "", "", "written @uDOS/<name>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, c, err := SplitSpec(tt.spec)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("SplitSpec(%q) = %q, %q; want error", tt.spec, n, c)
				}
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SplitSpec(%q) error %q, want ErrInvalid mentioning %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SplitSpec(%q): %v", tt.spec, err)
			}
			if n != tt.wantName || c != tt.wantConstraint {
				t.Errorf("SplitSpec(%q) = %q, %q; want %q, %q", tt.spec, n, c, tt.wantName, tt.wantConstraint)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"lib-grid-extensions", "@uDOS/grid-extensions", "grid-extensions", "core", "..", "@uDOS/", "a--b",
		"grid@^1.2", "@uDOS/grid@~1", "Lib-X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r, err := Parse(name)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalid", name, err)
			}
		} else {
			for _, form := range []string{r.ID, r.Namespace, r.Short} {
				again, err := Parse(form)
				if err != nil || again != r {
					t.Fatalf("Parse(%q) = %+v, but Parse(%q) = %+v, %v", name, r, form, again, err)
				}
			}
			if strings.Contains(r.InstallPath, "..") || strings.Count(r.InstallPath, "/") > 1 {
				t.Fatalf("Parse(%q): unsafe install path %q", name, r.InstallPath)
			}
			if r.Core != IsCore(name) || (r.Core && r.InstallPath != "") {
				t.Fatalf("Parse(%q) = %+v disagrees with IsCore", name, r)
			}
		}
		n, c, err := SplitSpec(name)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("SplitSpec(%q) error %v does not wrap ErrInvalid", name, err)
			}
			return
		}
		if _, err := Parse(n); err != nil {
			t.Fatalf("SplitSpec(%q) returned name %q that does not parse: %v", name, n, err)
		}
		joined := n
		if c != "" {
			joined += "@" + c
		}
		if joined != strings.TrimSpace(name) {
			t.Fatalf("SplitSpec(%q) = %q, %q does not rebuild the spec", name, n, c)
		}
	})
}
