package udospkg

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFile(t *testing.T) {
	t.Parallel()
	src := filepath.Join(examples, "grid-extensions")
	var buf bytes.Buffer
	if _, err := Pack(src, &buf, PackOptions{MTime: epoch}); err != nil {
		t.Fatal(err)
	}
	pkg, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := pkg.Verify(); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(src, "docs", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pkg.File("docs/README.md", 1<<20)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("File(docs/README.md) = %q, %v", got, err)
	}
	if got, err := pkg.File("docs/NOPE.md", 1<<20); got != nil || err != nil {
		t.Errorf("missing file: %q, %v", got, err)
	}
	if got, err := pkg.File("docs", 1<<20); got != nil || err != nil {
		t.Errorf("a folder is not a file: %q, %v", got, err)
	}
	if _, err := pkg.File("docs/README.md", 3); !errors.Is(err, ErrFileTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}
