package initramfs

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/sonic/delta"
)

// words makes compressible text, like the uDOS tree's sources.
func words(r *rand.Rand, n int) string {
	vocab := strings.Fields("sonic wizard core library package install update verify block index range signature manifest release variant kernel module grub boot image")
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(vocab[r.Intn(len(vocab))])
		b.WriteByte(" \n"[r.Intn(8)/7])
	}
	return b.String()
}

// core is a tree of 200 files; changed of them get new content.
func core(t *testing.T, changed int) string {
	r := rand.New(rand.NewSource(7))
	var entries []tarEntry
	for i := 0; i < 200; i++ {
		body := words(r, 2000+r.Intn(6000))
		if i%(200/max(changed, 1)) == 0 && changed > 0 {
			body = words(rand.New(rand.NewSource(int64(i))), len(body))
		}
		entries = append(entries, tarEntry{name: fmt.Sprintf("src/m%02d/f%03d.py", i/20, i), typ: tar.TypeReg, body: body})
	}
	return writeTar(t, entries, true)
}

// TestMembersLocaliseChanges: with the archive in independent members, a
// change to 5 % of the files changes a small part of the compressed
// initramfs; as one gzip stream, most of it.
func TestMembersLocaliseChanges(t *testing.T) {
	t.Parallel()
	build := func(changed int, single bool) string {
		o := baseOptions(t)
		o.Core, o.SingleStream = core(t, changed), single
		var b bytes.Buffer
		if err := Build(&b, o); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "initrd.gz")
		os.WriteFile(p, b.Bytes(), 0o644)
		return p
	}
	fetched := func(single bool) (float64, int) {
		old, nu := build(0, single), build(10, single)
		b, _ := os.ReadFile(nu)
		ix, err := delta.MakeIndex(bytes.NewReader(b), 1024)
		if err != nil {
			t.Fatal(err)
		}
		p, err := delta.MakePlan(context.Background(), ix, "", old)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("single=%v size %d", single, ix.Size)
		return float64(p.MissingBytes()) / float64(ix.Size), len(members(t, b))
	}
	frac, n := fetched(false)
	single, n1 := fetched(true)
	t.Logf("5%% of files changed: members (%d) fetch %.1f%%, one stream fetches %.1f%%", n, 100*frac, 100*single)
	if n < 10 || n1 != 1 {
		t.Fatalf("%d members (want many), single stream %d", n, n1)
	}
	if frac > 0.2 || single < 0.5 {
		t.Fatalf("members fetch %.2f of the image (want ≤ 0.2), one stream %.2f (want most)", frac, single)
	}
}
