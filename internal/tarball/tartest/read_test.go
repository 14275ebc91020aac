package tartest

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWalkFileReadsWhatArchiveWrote(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.tar.gz")
	if err := os.WriteFile(p, Archive(Dir("d/"), File("d/a", "alpha"), File("d/b", "beta")), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	WalkFile(t, p, func(h *tar.Header, body []byte) bool {
		got = append(got, h.Name+"="+string(body))
		return true
	})
	if want := "d/=,d/a=alpha,d/b=beta"; strings.Join(got, ",") != want {
		t.Errorf("entries %v, want %s", got, want)
	}
	got = nil
	WalkFile(t, p, func(h *tar.Header, body []byte) bool {
		got = append(got, h.Name)
		return h.Name != "d/a"
	})
	if strings.Join(got, ",") != "d/,d/a" {
		t.Errorf("fn returning false did not stop the walk: %v", got)
	}
}
