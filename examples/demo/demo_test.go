package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The README's quick start must stay true: run it and check what it leaves.
func TestDemoEndToEnd(t *testing.T) {
	dir := t.TempDir()
	var out, errs bytes.Buffer
	if err := run(context.Background(), dir, false, &out, &errs); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, errs.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "root", "library", "lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Libraries map[string]struct {
			Version string `json:"version"`
		} `json:"libraries"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	var got []string
	for id, e := range lock.Libraries {
		got = append(got, id+"@"+e.Version)
	}
	sort.Strings(got)
	want := "lib-grid-extensions@1.2.3 lib-grid-math@1.1.1 lib-pathfinding@1.1.0"
	if strings.Join(got, " ") != want {
		t.Fatalf("installed %v, want %s", got, want)
	}
	for _, p := range []string{"registry/catalog.json.asc", "root/library/grid-extensions", "root/library/pathfinding"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	// The second sync is one conditional request answered 304.
	if !strings.Contains(errs.String(), "catalog unchanged") || !strings.Contains(errs.String(), "(1 request(s))") {
		t.Errorf("the second sync was not a 304:\n%s", errs.String())
	}
	if !strings.Contains(out.String(), "@uDOS/grid-extensions") {
		t.Errorf("list output does not show the library:\n%s", out.String())
	}
}
