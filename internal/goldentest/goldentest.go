// Package goldentest compares a test's output with a golden file and, under
// `go test -update`, rewrites the file instead: one -update flag and one
// comparison for every package whose tests keep golden files.
package goldentest

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files (and the generated corpora) instead of comparing with them")

// Update reports whether the test binary runs with -update, for tests that
// regenerate more than one golden file (a corpus) themselves.
func Update() bool { return *update }

// Compare fails t unless got equals the file at path; with -update it
// writes got there first (creating its folder), so the comparison passes
// and the diff shows in git.
func Compare(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run go test -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
