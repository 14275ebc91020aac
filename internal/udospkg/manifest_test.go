package udospkg

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// validManifest returns a complete packaged manifest as a generic map, so
// cases can break one field at a time.
func validManifest() map[string]any {
	files := map[string]string{
		"lib/grid_extensions/__init__.py": strings.Repeat("a", 64),
		"requirements.txt":                strings.Repeat("b", 64),
	}
	return map[string]any{
		"manifest_version": 1,
		"id":               "lib-grid-extensions",
		"namespace":        "@uDOS/grid-extensions",
		"name":             "Grid Extensions",
		"version":          "1.2.3",
		"author":           "uDOS Team",
		"license":          "MIT",
		"entry_point":      "lib/grid_extensions/__init__.py",
		"install_path":     "library/grid-extensions",
		"dependencies":     map[string]string{"@uDOS/core": ">=1.4.0", "@uDOS/pathfinding": "^1.0.0"},
		"files":            files,
		"checksums":        map[string]string{"sha256": PayloadDigest(files)},
	}
}

func encode(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseManifest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(m map[string]any)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(m map[string]any) {}, ""},
		{"prerelease version", func(m map[string]any) { m["version"] = "2.0.0-beta.1" }, ""},
		{"short version", func(m map[string]any) { m["version"] = "1.2" },
			`manifest.json: field "version": "1.2" is not a semantic version (want MAJOR.MINOR.PATCH)`},
		{"v prefix", func(m map[string]any) { m["version"] = "v1.2.3" }, `field "version": "v1.2.3" is not a semantic version`},
		{"missing version", func(m map[string]any) { delete(m, "version") }, `field "version": missing`},
		{"bad id", func(m map[string]any) { m["id"] = "Grid Extensions" }, `field "id"`},
		{"short name as id", func(m map[string]any) { m["id"] = "grid-extensions" }, `field "id": "grid-extensions" is not an id (want "lib-grid-extensions")`},
		{"core as id", func(m map[string]any) { m["id"] = "lib-core" }, `is uDOS itself`},
		{"namespace mismatch", func(m map[string]any) { m["namespace"] = "@uDOS/other" }, `field "namespace": "@uDOS/other" does not match id`},
		{"install path", func(m map[string]any) { m["install_path"] = "../../etc" }, `field "install_path": "../../etc" must be "library/grid-extensions"`},
		{"unknown dependency name", func(m map[string]any) { m["dependencies"] = map[string]string{"@other/x": "^1"} },
			`field "dependencies": unknown dependency name "@other/x"`},
		{"bad constraint", func(m map[string]any) { m["dependencies"] = map[string]string{"@uDOS/pathfinding": "^^1"} },
			`field "dependencies": "@uDOS/pathfinding": invalid constraint "^^1"`},
		{"self dependency", func(m map[string]any) { m["dependencies"] = map[string]string{"grid-extensions": "^1.0.0"} }, `is the library itself`},
		{"same library twice", func(m map[string]any) {
			m["dependencies"] = map[string]string{"pathfinding": "^1.0.0", "@uDOS/pathfinding": "^1.0.0"}
		}, `name the same library`},
		{"entry point missing from files", func(m map[string]any) { m["entry_point"] = "lib/grid_extensions/main.py" },
			`field "entry_point": "lib/grid_extensions/main.py" is not among the package's files`},
		{"entry point outside lib", func(m map[string]any) { m["entry_point"] = "../x.py" }, `must be a clean relative path under lib/`},
		{"file outside payload", func(m map[string]any) {
			m["files"] = map[string]string{"lib/grid_extensions/__init__.py": strings.Repeat("a", 64), "setup.py": strings.Repeat("c", 64)}
		}, `field "files": "setup.py" is not a payload path`},
		{"bad file digest", func(m map[string]any) {
			m["files"] = map[string]string{"lib/grid_extensions/__init__.py": "ABC"}
		}, `is not a lower-case hex sha256`},
		{"payload digest mismatch", func(m map[string]any) { m["checksums"] = map[string]string{"sha256": strings.Repeat("0", 64)} },
			`field "checksums": sha256 0000000000000000000000000000000000000000000000000000000000000000 does not match the files listed`},
		{"no files", func(m map[string]any) { delete(m, "files") }, `field "files": missing`},
		{"unknown field", func(m map[string]any) { m["colour"] = "red" }, `unknown field "colour"`},
		{"manifest version", func(m map[string]any) { m["manifest_version"] = 2 }, `field "manifest_version": 2 is not supported`},
		{"several problems", func(m map[string]any) { m["version"] = "x"; m["license"] = "" }, `manifest.json: 2 problems:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := validManifest()
			tt.modify(m)
			got, err := ParseManifest(encode(t, m))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got.ID != "lib-grid-extensions" {
					t.Errorf("ID = %q", got.ID)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("error %T is not a *ValidationError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}

func TestParseManifestSyntax(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "{", "[]", `{"id": 1}`, `{} {}`} {
		if _, err := ParseManifest([]byte(in)); err == nil {
			t.Errorf("ParseManifest(%q) succeeded", in)
		}
	}
}

func TestParseSourceManifestDefaults(t *testing.T) {
	t.Parallel()
	src := `{"id": "lib-grid-math", "name": "Grid Math", "version": "1.1.1", "author": "uDOS Team",
		"license": "MIT", "entry_point": "lib/grid_math/__init__.py", "files": {"x": "y"}}`
	m, err := ParseSourceManifest([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if m.Namespace != "@uDOS/grid-math" || m.InstallPath != "library/grid-math" || m.ManifestVersion != 1 {
		t.Errorf("defaults not filled: %+v", m)
	}
	if m.Files != nil || m.Dependencies == nil {
		t.Errorf("files should be dropped and dependencies empty: %+v", m)
	}
}

func TestMarshalSortedAndUnescaped(t *testing.T) {
	t.Parallel()
	m, err := ParseManifest(encode(t, validManifest()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, `">=1.4.0"`) {
		t.Errorf("HTML-escaped constraint in %s", s)
	}
	if strings.Index(s, `"author"`) > strings.Index(s, `"checksums"`) || !strings.HasSuffix(s, "}\n") {
		t.Errorf("keys not sorted or no final newline:\n%s", s)
	}
	again, err := ParseManifest(b)
	if err != nil {
		t.Fatalf("marshalled manifest does not parse: %v", err)
	}
	b2, _ := again.Marshal()
	if string(b2) != s {
		t.Error("Marshal is not stable through a round trip")
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{}`))
	b, _ := json.Marshal(validManifest())
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if m != nil {
				t.Fatal("manifest returned with an error")
			}
			return
		}
		// Whatever parses must survive a round trip unchanged and only
		// name safe payload paths.
		out, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", out, err)
		}
		out2, _ := m2.Marshal()
		if string(out) != string(out2) {
			t.Fatal("round trip changed the manifest")
		}
		for p := range m.Files {
			if !IsPayloadPath(p) {
				t.Fatalf("accepted unsafe path %q", p)
			}
		}
		if !strings.HasPrefix(m.InstallPath, "library/") || strings.Contains(m.InstallPath, "..") {
			t.Fatalf("accepted install_path %q", m.InstallPath)
		}
	})
}
