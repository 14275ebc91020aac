package main

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/cmd/root"
	"github.com/fredbook/udos-dist/internal/iostreams"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/registry"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// benchLibs is one application library with five dependencies, the shape
// the benchmark installs; the same code goes into .udos-packages and into
// equivalent Python wheels for the pip comparison.
var benchLibs = []struct {
	short string
	deps  []string
}{
	{"bench-app", []string{"bench-dep1", "bench-dep2", "bench-dep3", "bench-dep4", "bench-dep5"}},
	{"bench-dep1", nil}, {"bench-dep2", nil}, {"bench-dep3", nil}, {"bench-dep4", nil}, {"bench-dep5", nil},
}

func benchModule(short string) (pkg, code string) {
	pkg = strings.ReplaceAll(short, "-", "_")
	var b strings.Builder
	fmt.Fprintf(&b, "\"\"\"%s: benchmark fixture.\"\"\"\n\n", short)
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "def f%d(x):\n    return x * %d + %d\n\n", i, i, i*i)
	}
	return pkg, b.String()
}

// writeBenchFixtures writes dir/registry (signed packages and catalog),
// dir/keys and dir/wheels.
func writeBenchFixtures(dir string) error {
	keys, err := testKeys()
	if err != nil {
		return err
	}
	if err := writeKeys(filepath.Join(dir, "keys")); err != nil {
		return err
	}
	signer, err := pgpsign.LoadSigner(keys["test"][0], nil)
	if err != nil {
		return err
	}
	src, pk, wheels := filepath.Join(dir, "src"), filepath.Join(dir, "pk"), filepath.Join(dir, "wheels")
	for _, d := range []string{src, pk, wheels} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, l := range benchLibs {
		pkgName, code := benchModule(l.short)
		lib := filepath.Join(src, l.short)
		if err := os.MkdirAll(filepath.Join(lib, "lib", pkgName), 0o755); err != nil {
			return err
		}
		deps := []string{`"@uDOS/core": ">=1.4.0"`}
		var req []string
		for _, d := range l.deps {
			deps = append(deps, fmt.Sprintf(`"@uDOS/%s": "^1.0.0"`, d))
			req = append(req, fmt.Sprintf("Requires-Dist: %s>=1.0.0,<2", strings.ReplaceAll(d, "-", "_")))
		}
		manifest := fmt.Sprintf(`{"id": "lib-%s", "name": "%s", "version": "1.0.0", "description": "benchmark fixture",
 "author": "bench", "license": "MIT", "entry_point": "lib/%s/__init__.py", "dependencies": {%s}}`,
			l.short, l.short, pkgName, strings.Join(deps, ", "))
		if err := os.WriteFile(filepath.Join(lib, "manifest.json"), []byte(manifest), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(lib, "lib", pkgName, "__init__.py"), []byte(code), 0o644); err != nil {
			return err
		}
		res, err := udospkg.PackFile(lib, pk, udospkg.PackOptions{})
		if err != nil {
			return err
		}
		if _, err := pgpsign.SignFile(signer, filepath.Join(pk, res.FileName)); err != nil {
			return err
		}
		if err := writeWheel(wheels, pkgName, "1.0.0", code, req); err != nil {
			return err
		}
	}
	_, err = registry.Assemble(context.Background(), &registry.DirSource{Dir: pk}, registry.Options{OutDir: filepath.Join(dir, "registry"), Signer: signer})
	return err
}

// writeWheel writes a minimal, valid pure-Python wheel.
func writeWheel(dir, name, version, code string, requires []string) error {
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s-py3-none-any.whl", name, version)))
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	info := fmt.Sprintf("%s-%s.dist-info", name, version)
	files := []struct{ path, body string }{
		{name + "/__init__.py", code},
		{info + "/METADATA", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: benchmark fixture\n%s\n", name, version, strings.Join(requires, "\n"))},
		{info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: udos-lib-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	for _, fl := range files {
		w, err := zw.Create(fl.path)
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte(fl.body)); err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(fl.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", fl.path, base64.RawURLEncoding.EncodeToString(sum[:]), len(fl.body))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", info)
	w, err := zw.Create(info + "/RECORD")
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(record.String())); err != nil {
		return err
	}
	return zw.Close()
}

// TestWriteBenchFixtures writes the fixtures of the BENCHMARKS.md
// comparison into $UDOS_LIB_BENCH_DIR (a generator, run on demand); without
// the variable it checks that they can be generated.
func TestWriteBenchFixtures(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("UDOS_LIB_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	mustNoErr(t, writeBenchFixtures(dir))
	for _, p := range []string{"registry/catalog.json", "registry/catalog.json.asc", "wheels/bench_app-1.0.0-py3-none-any.whl"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkInstallSixLibraries installs bench-app and its five
// dependencies from a loopback HTTP registry into a fresh root, in process,
// signatures checked.
func BenchmarkInstallSixLibraries(b *testing.B) {
	dir := b.TempDir()
	if err := writeBenchFixtures(dir); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(httpFileServer(filepath.Join(dir, "registry")))
	defer srv.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := filepath.Join(dir, fmt.Sprintf("root%d", i))
		if err := os.MkdirAll(r, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r, "version.json"), []byte(`{"version":"1.5.0"}`), 0o644); err != nil {
			b.Fatal(err)
		}
		io, _, _, errOut := iostreams.Test()
		f := factory.New(io)
		f.Getenv = func(string) string { return "" }
		b.StartTimer()
		if code := root.Run(f, []string{"--root", r, "--registry", srv.URL, "--keyring", filepath.Join(dir, "keys", "test.pub.asc"), "install", "bench-app"}); code != 0 {
			b.Fatalf("exit %d: %s", code, errOut)
		}
	}
}
