package build

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchTree copies the fixture and adds about 32 MiB under core/: three
// quarters text, one quarter random bytes (as BENCHMARKS.md's 500 MiB tree).
func benchTree(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "udos")
	copyTreeB(b, fixture, dir)
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("def class return import grid tile layer render theme value result error config path server route")
	for i := 0; i < 128; i++ {
		var data []byte
		name := fmt.Sprintf("core/bulk/m%03d.py", i)
		if i%4 == 0 {
			data = make([]byte, 256<<10)
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			name = fmt.Sprintf("core/bulk/a%03d.bin", i)
		} else {
			var sb strings.Builder
			for sb.Len() < 256<<10 {
				sb.WriteString(words[r.IntN(len(words))])
				sb.WriteByte(" \n"[r.IntN(2)])
			}
			data = []byte(sb.String())
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func copyTreeB(b *testing.B, from, to string) {
	b.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		target := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBuild builds core-slim from a 32 MiB tree (no signing), with
// parallel and serial compression.
func BenchmarkBuild(b *testing.B) {
	src := benchTree(b)
	for _, serial := range []bool{false, true} {
		b.Run(fmt.Sprintf("serial=%v", serial), func(b *testing.B) {
			b.SetBytes(32 << 20)
			for i := 0; i < b.N; i++ {
				cfg := Config{Variant: "core-slim", Source: src, Version: "1.4.6", Output: b.TempDir(), SourceDateEpoch: epoch, Serial: serial}
				if _, err := Build(context.Background(), cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
