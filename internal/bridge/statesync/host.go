package statesync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fredbook/udos-dist/internal/atomicfile"
)

// Store is the host's state of all clients: <dir>/<client>/ holds
//
//	chunks/ab/<sha256>       every chunk received (kept across dropped syncs)
//	versions/000007/         a published version, complete or absent
//	versions/000007.json     its manifest
//	current -> versions/N    the latest version (swapped atomically)
//	conflicts/<time>-base<B>/ syncs that were based on an older version
type Store struct {
	Dir  string
	Keep int // versions kept (at least 1)
	Log  func(string)
	Now  func() time.Time

	mu   sync.Mutex
	busy map[string]bool
}

// Serve runs one sync for client on the stream rw.
func (s *Store) Serve(ctx context.Context, rw io.ReadWriter, client string) (res Result, err error) {
	if err := s.claim(client); err != nil {
		_ = writeJSON(rw, msgError, errorMsg{err.Error()})
		return res, err
	}
	defer s.release(client)
	defer func() {
		if err != nil {
			_ = writeJSON(rw, msgError, errorMsg{err.Error()})
		}
	}()
	cdir := filepath.Join(s.Dir, clientDir(client))
	if err := os.MkdirAll(filepath.Join(cdir, "chunks"), 0o700); err != nil {
		return res, err
	}
	typ, b, err := readMsg(rw)
	if err != nil {
		return res, fmt.Errorf("reading the sync request: %w", err)
	}
	var hello helloMsg
	if typ != msgHello || json.Unmarshal(b, &hello) != nil || hello.Manifest == nil {
		return res, errors.New("the sync request is malformed")
	}
	if hello.Protocol != ProtocolVersion {
		return res, fmt.Errorf("sync protocol %d is not spoken here (this host speaks %d): update udos-lib on one side", hello.Protocol, ProtocolVersion)
	}
	m := hello.Manifest
	if err := m.Validate(); err != nil {
		return res, err
	}
	latest, err := s.latest(cdir)
	if err != nil {
		return res, err
	}
	missing := map[string]bool{}
	var order []string
	for _, f := range m.Files {
		for _, c := range f.Chunks {
			if !missing[c] && !exists(chunkPath(cdir, c)) {
				missing[c] = true
				order = append(order, c)
			}
		}
	}
	if err := writeJSON(rw, msgNeed, needMsg{Latest: latest, Missing: order}); err != nil {
		return res, err
	}
	for {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		typ, b, err := readMsg(rw)
		if err != nil {
			return res, fmt.Errorf("the sync stream ended after %d of %d chunks (the next sync resumes): %w", res.Sent, len(order), err)
		}
		if typ == msgDone {
			break
		}
		if typ != msgChunk || len(b) < sha256.Size {
			return res, fmt.Errorf("unexpected sync message %q", typ)
		}
		id := hex.EncodeToString(b[:sha256.Size])
		data := b[sha256.Size:]
		if sum := sha256.Sum256(data); !bytes.Equal(sum[:], b[:sha256.Size]) {
			return res, fmt.Errorf("chunk %s does not match its hash", id[:12])
		}
		if !missing[id] {
			return res, fmt.Errorf("chunk %s was not asked for", id[:12])
		}
		if err := writeChunk(chunkPath(cdir, id), data); err != nil {
			return res, err
		}
		delete(missing, id)
		res.Sent++
		res.SentBytes += int64(len(data))
	}
	if len(missing) > 0 {
		return res, fmt.Errorf("the client finished with %d chunks still missing", len(missing))
	}
	res.Files, res.Bytes = len(m.Files), m.Size()
	if latest > 0 {
		cur, err := readManifest(filepath.Join(cdir, "versions", vname(latest)+".json"))
		if err == nil && cur.ID() == m.ID() {
			res.Version, res.Latest, res.Unchanged = latest, latest, true
			return res, writeJSON(rw, msgResult, res)
		}
	}
	if latest > 0 && hello.Base != latest {
		name := fmt.Sprintf("%s-base%d-latest%d", s.Now().UTC().Format("20060102T150405Z"), hello.Base, latest)
		dst := filepath.Join(cdir, "conflicts", name)
		if err := s.materialize(cdir, m, dst, latest); err != nil {
			return res, err
		}
		res.Conflict, res.Latest = filepath.Join("conflicts", name), latest
		s.Log(fmt.Sprintf("sync from %s was based on version %d, not the latest %d: kept beside it as %s", client, hello.Base, latest, dst))
		return res, writeJSON(rw, msgResult, res)
	}
	next := latest + 1
	if err := s.materialize(cdir, m, filepath.Join(cdir, "versions", vname(next)), latest); err != nil {
		return res, err
	}
	if err := s.setCurrent(cdir, next); err != nil {
		return res, err
	}
	s.prune(cdir, next)
	res.Version, res.Latest = next, next
	s.Log(fmt.Sprintf("sync from %s published version %d (%d files, %d bytes, %d new chunks)", client, next, res.Files, res.Bytes, res.Sent))
	return res, writeJSON(rw, msgResult, res)
}

func (s *Store) claim(client string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy == nil {
		s.busy = map[string]bool{}
	}
	if s.busy[client] {
		return errors.New("another sync from this client is running; try again when it ends")
	}
	s.busy[client] = true
	return nil
}

func (s *Store) release(client string) {
	s.mu.Lock()
	delete(s.busy, client)
	s.mu.Unlock()
}

// clientDir turns a key fingerprint into a folder name.
func clientDir(fp string) string {
	fp = strings.TrimPrefix(fp, "SHA256:")
	return strings.NewReplacer("/", "_", "+", "-", "=", "").Replace(fp)
}

func vname(n int) string { return fmt.Sprintf("%06d", n) }

func chunkPath(cdir, id string) string { return filepath.Join(cdir, "chunks", id[:2], id) }

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// latest reads the current link; no link is version 0.
func (s *Store) latest(cdir string) (int, error) {
	t, err := os.Readlink(filepath.Join(cdir, "current"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the current state version: %w", err)
	}
	n, err := strconv.Atoi(filepath.Base(t))
	if err != nil {
		return 0, fmt.Errorf("the current state link points at %q, not a version", t)
	}
	return n, nil
}

func readManifest(p string) (*Manifest, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &m, nil
}

// materialize writes m's tree into dst through a temporary folder renamed
// at the end, so dst is complete or absent. Files unchanged since version
// prev are hard links to it (versions are read-only).
func (s *Store) materialize(cdir string, m *Manifest, dst string, prev int) error {
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dst)+"-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	old := map[string]File{}
	oldDir := filepath.Join(cdir, "versions", vname(prev))
	if prev > 0 {
		if pm, err := readManifest(oldDir + ".json"); err == nil {
			for _, f := range pm.Files {
				old[f.Path] = f
			}
		}
	}
	for _, d := range m.Dirs {
		if err := os.MkdirAll(filepath.Join(tmp, filepath.FromSlash(d)), 0o700); err != nil {
			return err
		}
	}
	for _, f := range m.Files {
		p := filepath.Join(tmp, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if o, ok := old[f.Path]; ok && o.Mode == f.Mode && equal(o.Chunks, f.Chunks) {
			if err := os.Link(filepath.Join(oldDir, filepath.FromSlash(f.Path)), p); err == nil {
				continue
			}
		}
		if err := writeFromChunks(cdir, f, p); err != nil {
			return err
		}
	}
	if err := syncDirs(tmp); err != nil {
		return err
	}
	mb, _ := json.MarshalIndent(m, "", " ")
	if filepath.Base(parent) == "versions" {
		if err := atomicfile.WriteFile(dst+".json", mb, 0o600); err != nil {
			return err
		}
	} else if err := atomicfile.WriteFile(filepath.Join(tmp, ".udos-sync-manifest.json"), mb, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("publishing %s: %w", dst, err)
	}
	ok = true
	return syncDir(parent)
}

// writeChunk stores a chunk by rename, without fsync: a chunk lost or torn
// by a host crash is caught by the hash check when a version is built from
// it (and then asked for again), while the version itself is fsynced.
func writeChunk(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), p)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("storing chunk %s: %w", filepath.Base(p)[:12], werr)
	}
	return nil
}

func writeFromChunks(cdir string, f File, p string) error {
	out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	for _, c := range f.Chunks {
		b, err := os.ReadFile(chunkPath(cdir, c))
		if err == nil {
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != c {
				// Torn by a crash: drop it so the next sync sends it again.
				os.Remove(chunkPath(cdir, c))
				err = errors.New("damaged on the host (it will be asked for again)")
			}
		}
		if err != nil {
			out.Close()
			return fmt.Errorf("chunk %s of %s: %w", c[:12], f.Path, err)
		}
		if _, err := out.Write(b); err != nil {
			out.Close()
			return err
		}
	}
	// Versions are history: read-only, whatever the file's own mode.
	if err := out.Chmod(os.FileMode(f.Mode) &^ 0o222); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDirs(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return syncDir(p)
		}
		return nil
	})
}

func syncDir(p string) error {
	d, err := os.Open(p)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// setCurrent swaps the current link to version n (a symlink renamed over
// the old one: readers see the old version or the new one).
func (s *Store) setCurrent(cdir string, n int) error {
	tmp := filepath.Join(cdir, ".current.tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join("versions", vname(n)), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(cdir, "current")); err != nil {
		return fmt.Errorf("publishing version %d: %w", n, err)
	}
	return syncDir(cdir)
}

// prune removes versions beyond Keep and chunks no kept version, conflict
// or the next resumed sync needs (chunks newer than a day are kept: they
// may belong to a sync that dropped and will resume).
func (s *Store) prune(cdir string, latest int) {
	keep := max(s.Keep, 1)
	vdir := filepath.Join(cdir, "versions")
	ents, _ := os.ReadDir(vdir)
	refs := map[string]bool{}
	for _, e := range ents {
		n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".json"))
		if err != nil {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				os.RemoveAll(filepath.Join(vdir, e.Name()))
			}
			continue
		}
		if n <= latest-keep {
			if err := makeWritable(filepath.Join(vdir, e.Name())); err == nil {
				os.RemoveAll(filepath.Join(vdir, e.Name()))
			}
			continue
		}
		if strings.HasSuffix(e.Name(), ".json") {
			if m, err := readManifest(filepath.Join(vdir, e.Name())); err == nil {
				for _, f := range m.Files {
					for _, c := range f.Chunks {
						refs[c] = true
					}
				}
			}
		}
	}
	cents, _ := os.ReadDir(filepath.Join(cdir, "conflicts"))
	for _, e := range cents {
		if m, err := readManifest(filepath.Join(cdir, "conflicts", e.Name(), ".udos-sync-manifest.json")); err == nil {
			for _, f := range m.Files {
				for _, c := range f.Chunks {
					refs[c] = true
				}
			}
		}
	}
	cutoff := s.Now().Add(-24 * time.Hour)
	_ = filepath.WalkDir(filepath.Join(cdir, "chunks"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || refs[d.Name()] {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().Before(cutoff) {
			os.Remove(p)
		}
		return nil
	})
}

func makeWritable(p string) error {
	return filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			return os.Chmod(q, 0o700)
		}
		return err
	})
}

// Versions lists the published versions of client, oldest first.
func (s *Store) Versions(client string) ([]int, error) {
	ents, err := os.ReadDir(filepath.Join(s.Dir, clientDir(client), "versions"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, err
}

// Current is the folder of client's latest version ("" when none).
func (s *Store) Current(client string) string {
	cdir := filepath.Join(s.Dir, clientDir(client))
	n, err := s.latest(cdir)
	if err != nil || n == 0 {
		return ""
	}
	return filepath.Join(cdir, "versions", vname(n))
}
