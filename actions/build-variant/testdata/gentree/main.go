// Command gentree writes a deterministic uDOS-shaped source tree of about
// the given size for the build-variant benchmark (BENCHMARKS.md): the files
// core-slim takes, with the bulk under core/ — three quarters Python-like
// text, one quarter incompressible binary (fonts, images), in files of 1 KiB
// to 2 MiB.
//
//	go run ./actions/build-variant/testdata/gentree -size 500 DIR
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

var words = strings.Fields(`def class return import from self if else elif for while in not and or None True False
grid tile layer render theme genre retro neon minimal command parse token value result error config path
server route health library install version variant manifest digest signature archive stream buffer
width height x y z map list dict set tuple str int float bool print logger event handler wizard sonic`)

func main() {
	size := flag.Int("size", 500, "approximate size in MiB")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gentree [-size MiB] DIR")
		os.Exit(2)
	}
	if err := gen(flag.Arg(0), int64(*size)<<20); err != nil {
		fmt.Fprintln(os.Stderr, "gentree:", err)
		os.Exit(1)
	}
}

func write(root, rel string, data []byte, mode os.FileMode) error {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, mode)
}

func gen(root string, total int64) error {
	r := rand.New(rand.NewPCG(1, 2))
	fixed := map[string]string{
		"version.json":                  `{"version": {"major": 1, "minor": 4, "patch": 6}, "display": "v1.4.6"}` + "\n",
		"README.md":                     "# uDOS (benchmark tree)\n",
		"requirements.txt":              "rich==13.7.1\nPyYAML==6.0.1\n",
		"docs/INSTALLATION.md":          "# Installing\n",
		"themes/genre/retro/genre.yaml": "name: retro\n",
	}
	for rel, s := range fixed {
		if err := write(root, rel, []byte(s), 0o644); err != nil {
			return err
		}
	}
	if err := write(root, "uDOS.py", []byte("#!/usr/bin/env python3\nprint('uDOS')\n"), 0o755); err != nil {
		return err
	}
	var written int64
	for i := 0; written < total; i++ {
		// Log-uniform sizes between 1 KiB and 2 MiB.
		n := int64(1024) << r.IntN(11)
		n += r.Int64N(n)
		if n > total-written {
			n = max(total-written, 1)
		}
		var data []byte
		var rel string
		pkg := fmt.Sprintf("core/pkg%02d/sub%d", i%40, i%7)
		if r.IntN(4) == 0 {
			data = make([]byte, n)
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			rel = fmt.Sprintf("%s/asset%05d.bin", pkg, i)
		} else {
			data = text(r, n)
			rel = fmt.Sprintf("%s/module%05d.py", pkg, i)
		}
		if err := write(root, rel, data, 0o644); err != nil {
			return err
		}
		written += int64(len(data))
	}
	return nil
}

func text(r *rand.Rand, n int64) []byte {
	var b strings.Builder
	b.Grow(int(n) + 128)
	w := bufio.NewWriter(&b)
	var size int64
	for size < n {
		indent := strings.Repeat("    ", r.IntN(4))
		line := indent
		for k := 3 + r.IntN(9); k > 0; k-- {
			line += words[r.IntN(len(words))]
			if r.IntN(5) == 0 {
				line += fmt.Sprintf("_%d", r.IntN(1000))
			}
			line += " "
		}
		line = strings.TrimRight(line, " ") + "\n"
		w.WriteString(line)
		size += int64(len(line))
	}
	w.Flush()
	return []byte(b.String())[:n]
}
