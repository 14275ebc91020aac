package statesync

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const client = "SHA256:abc/def+ghi"

func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func random(n int) []byte { b := make([]byte, n); rand.Read(b); return b }

// cutConn fails every write after limit bytes, as a dropped link does.
type cutConn struct {
	net.Conn
	limit int
}

func (c *cutConn) Write(p []byte) (int, error) {
	if c.limit <= 0 {
		c.Conn.Close()
		return 0, errors.New("link cut")
	}
	if len(p) > c.limit {
		n, _ := c.Conn.Write(p[:c.limit])
		c.limit = 0
		c.Conn.Close()
		return n, errors.New("link cut")
	}
	c.limit -= len(p)
	return c.Conn.Write(p)
}

func doSync(t *testing.T, st *Store, dir string, base, cut int) (Result, error, Result, error) {
	t.Helper()
	a, b := net.Pipe()
	var cw net.Conn = a
	if cut > 0 {
		cw = &cutConn{Conn: a, limit: cut}
	}
	type hr struct {
		r   Result
		err error
	}
	host := make(chan hr, 1)
	go func() { r, err := st.Serve(context.Background(), b, client); b.Close(); host <- hr{r, err} }()
	m, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Push(context.Background(), cw, dir, m, base, nil)
	a.Close()
	h := <-host
	return r, err, h.r, h.err
}

func newStore(t *testing.T) *Store {
	return &Store{Dir: t.TempDir(), Keep: 2, Log: func(string) {}, Now: time.Now}
}

func sameTree(t *testing.T, want, got string) {
	t.Helper()
	mw, err := Scan(want)
	if err != nil {
		t.Fatal(err)
	}
	mg, err := Scan(got)
	if err != nil {
		t.Fatal(err)
	}
	for i := range mg.Files {
		mg.Files[i].Mode = 0
	}
	for i := range mw.Files {
		mw.Files[i].Mode = 0
	}
	if mw.ID() != mg.ID() {
		t.Fatalf("trees differ:\n%+v\n%+v", mw, mg)
	}
}

func TestSyncVersionsIncrementalAndUnchanged(t *testing.T) {
	st := newStore(t)
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"memory/a.json": []byte(`{"a":1}`), "big.bin": random(3*ChunkSize + 17), "x/y/z.txt": []byte("z")})
	os.MkdirAll(filepath.Join(src, "empty"), 0o755)
	r, err, _, herr := doSync(t, st, src, 0, 0)
	if err != nil || herr != nil || r.Version != 1 || r.Sent != 6 {
		t.Fatalf("first sync: %+v %v %v", r, err, herr)
	}
	cur := st.Current(client)
	sameTree(t, src, cur)
	if fi, err := os.Stat(filepath.Join(cur, "empty")); err != nil || !fi.IsDir() {
		t.Fatal("empty folder not synced")
	}
	// One chunk of the big file changes: only that chunk travels.
	f, _ := os.OpenFile(filepath.Join(src, "big.bin"), os.O_WRONLY, 0)
	f.WriteAt([]byte("changed"), ChunkSize+5)
	f.Close()
	r, err, _, _ = doSync(t, st, src, 1, 0)
	if err != nil || r.Version != 2 || r.Sent != 1 || r.SentBytes != ChunkSize {
		t.Fatalf("incremental: %+v %v", r, err)
	}
	sameTree(t, src, st.Current(client))
	r, err, _, _ = doSync(t, st, src, 2, 0)
	if err != nil || !r.Unchanged || r.Version != 2 || r.Sent != 0 {
		t.Fatalf("unchanged: %+v %v", r, err)
	}
	writeTree(t, src, map[string][]byte{"memory/a.json": []byte(`{"a":2}`)})
	if r, err, _, _ = doSync(t, st, src, 2, 0); err != nil || r.Version != 3 {
		t.Fatalf("third: %+v %v", r, err)
	}
	if v, _ := st.Versions(client); len(v) != 2 || v[0] != 2 || v[1] != 3 {
		t.Fatalf("kept versions %v, want [2 3]", v)
	}
}

// The link drops mid-transfer, at many points: the host's latest version
// stays complete and unchanged, and the next sync sends only what had not
// arrived.
func TestCutMidSyncResumes(t *testing.T) {
	for _, cut := range []int{100, ChunkSize / 2, 2*ChunkSize + 300, 4*ChunkSize + 50} {
		st := newStore(t)
		src := t.TempDir()
		writeTree(t, src, map[string][]byte{"state.json": []byte("v1")})
		if _, err, _, _ := doSync(t, st, src, 0, 0); err != nil {
			t.Fatal(err)
		}
		v1 := t.TempDir()
		writeTree(t, v1, map[string][]byte{"state.json": []byte("v1")})
		writeTree(t, src, map[string][]byte{"state.json": []byte("v2"), "a.bin": random(3 * ChunkSize), "b.bin": random(2 * ChunkSize)})
		_, err, _, herr := doSync(t, st, src, 1, cut)
		if err == nil || herr == nil {
			t.Fatalf("cut at %d: sync succeeded (%v, %v)", cut, err, herr)
		}
		sameTree(t, v1, st.Current(client))
		if v, _ := st.Versions(client); len(v) != 1 {
			t.Fatalf("cut at %d: versions %v", cut, v)
		}
		arrived := countChunks(t, st) - 1 // the v1 chunk
		r, err, _, _ := doSync(t, st, src, 1, 0)
		if err != nil || r.Version != 2 {
			t.Fatalf("resume after cut at %d: %+v %v", cut, r, err)
		}
		if r.Sent != 6-arrived {
			t.Fatalf("cut at %d: resume sent %d chunks, %d had arrived of 6", cut, r.Sent, arrived)
		}
		sameTree(t, src, st.Current(client))
	}
}

func countChunks(t *testing.T, st *Store) int {
	n := 0
	filepath.WalkDir(filepath.Join(st.Dir, clientDir(client), "chunks"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			n++
		}
		return nil
	})
	return n
}

func TestConflictKeptBeside(t *testing.T) {
	st := newStore(t)
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"s": []byte("one")})
	doSync(t, st, src, 0, 0)
	writeTree(t, src, map[string][]byte{"s": []byte("two")})
	doSync(t, st, src, 1, 0)
	// Another Sonic (or a restored one) based on version 1 pushes.
	other := t.TempDir()
	writeTree(t, other, map[string][]byte{"s": []byte("other")})
	r, err, hr, _ := doSync(t, st, other, 1, 0)
	if !errors.Is(err, ErrConflict) || hr.Conflict == "" || r.Latest != 2 {
		t.Fatalf("conflict: %+v %v", r, err)
	}
	b, _ := os.ReadFile(filepath.Join(st.Current(client), "s"))
	if string(b) != "two" {
		t.Fatalf("latest overwritten: %q", b)
	}
	c, _ := os.ReadFile(filepath.Join(st.Dir, clientDir(client), r.Conflict, "s"))
	if string(c) != "other" {
		t.Fatalf("conflict copy: %q", c)
	}
}

func TestBadManifestsRefused(t *testing.T) {
	h := strings.Repeat("a", 64)
	for name, m := range map[string]Manifest{
		"climb":    {Files: []File{{Path: "../x", Size: 1, Chunks: []string{h}}}},
		"absolute": {Files: []File{{Path: "/etc/x", Size: 1, Chunks: []string{h}}}},
		"dot":      {Files: []File{{Path: "a/./b", Size: 1, Chunks: []string{h}}}},
		"twice":    {Files: []File{{Path: "a", Size: 1, Chunks: []string{h}}, {Path: "a", Size: 1, Chunks: []string{h}}}},
		"chunks":   {Files: []File{{Path: "a", Size: ChunkSize + 1, Chunks: []string{h}}}},
		"hash":     {Files: []File{{Path: "a", Size: 1, Chunks: []string{"../../etc"}}}},
		"file+dir": {Files: []File{{Path: "a", Size: 1, Chunks: []string{h}}, {Path: "a/b", Size: 1, Chunks: []string{h}}}},
		"emptydir": {Dirs: []string{".."}},
	} {
		if err := m.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// And over the wire: the host answers with the error, stores nothing.
	st := newStore(t)
	a, b := net.Pipe()
	go func() { st.Serve(context.Background(), b, client); b.Close() }()
	bad := &Manifest{Files: []File{{Path: "../../evil", Size: 1, Chunks: []string{h}}}}
	_, err := Push(context.Background(), a, t.TempDir(), bad, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "leaves the tree") {
		t.Fatalf("bad manifest over the wire: %v", err)
	}
}

func TestScanRefusesLinks(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"a": []byte("x")})
	os.Symlink("/etc/passwd", filepath.Join(src, "link"))
	if _, err := Scan(src); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("symlink: %v", err)
	}
}

func TestJournal(t *testing.T) {
	j := Journal{File: filepath.Join(t.TempDir(), "j.json")}
	if err := j.Update("h", func(e *HostEntry) { e.Base = 3 }); err != nil {
		t.Fatal(err)
	}
	m, err := j.Load()
	if err != nil || m["h"].Base != 3 {
		t.Fatalf("%v %v", m, err)
	}
	os.WriteFile(j.File, []byte("{"), 0o600)
	if _, err := j.Load(); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged journal: %v", err)
	}

}

func TestScanCacheSeesChanges(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"a": []byte("one"), "b": []byte("two")})
	c := ScanCache{File: filepath.Join(t.TempDir(), "cache.json")}
	m1, err := c.Scan(src)
	if err != nil {
		t.Fatal(err)
	}
	// Same size, rewritten: the inode/ctime/mtime change makes it re-read.
	writeTree(t, src, map[string][]byte{"a": []byte("ONE")})
	m2, _ := c.Scan(src)
	m3, _ := Scan(src)
	if m2.ID() != m3.ID() || m2.ID() == m1.ID() {
		t.Fatal("the cache hid a change")
	}
}

// A chunk torn on the host (a crash after rename, before the data reached
// the disk) is caught when a version is built from it, and sent again.
func TestTornChunkResent(t *testing.T) {
	st := newStore(t)
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"a": []byte("aaaa")})
	if _, err, _, _ := doSync(t, st, src, 0, 0); err != nil {
		t.Fatal(err)
	}
	m, _ := Scan(src)
	os.WriteFile(chunkPath(filepath.Join(st.Dir, clientDir(client)), m.Files[0].Chunks[0]), []byte("torn"), 0o600)
	writeTree(t, src, map[string][]byte{"b": []byte("new")})
	// Version 1's file "a" is hard-linked, so tear the path that reads the
	// chunk: a new file with the same content.
	writeTree(t, src, map[string][]byte{"c": []byte("aaaa")})
	if _, err, _, _ := doSync(t, st, src, 1, 0); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("torn chunk: %v", err)
	}
	r, err, _, _ := doSync(t, st, src, 1, 0)
	if err != nil || r.Version != 2 || r.Sent != 1 {
		t.Fatalf("after a torn chunk: %+v %v", r, err)
	}
	sameTree(t, src, st.Current(client))
}
