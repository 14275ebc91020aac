package statesync

import (
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
	"time"

	"github.com/fredbook/udos-dist/internal/atomicfile"
)

// ErrConflict is a sync the host kept beside its latest version.
var ErrConflict = errors.New("the host has a newer version than this state derives from")

// Push sends the state in dir over rw, based on host version base. progress,
// when set, is told of every chunk sent.
func Push(ctx context.Context, rw io.ReadWriter, dir string, m *Manifest, base int, progress func(sent, total int64)) (Result, error) {
	var res Result
	if err := writeJSON(rw, msgHello, helloMsg{Protocol: ProtocolVersion, Base: base, Manifest: m}); err != nil {
		return res, fmt.Errorf("sending the sync request: %w", err)
	}
	typ, b, err := readMsg(rw)
	if err != nil {
		return res, fmt.Errorf("reading the host's answer: %w", err)
	}
	if typ == msgError {
		return res, hostError(b)
	}
	var need needMsg
	if typ != msgNeed || json.Unmarshal(b, &need) != nil {
		return res, errors.New("the host's answer is malformed")
	}
	where := map[string]struct {
		path string
		off  int64
	}{}
	for _, f := range m.Files {
		for i, c := range f.Chunks {
			if _, ok := where[c]; !ok {
				where[c] = struct {
					path string
					off  int64
				}{f.Path, int64(i) * ChunkSize}
			}
		}
	}
	var total int64
	for _, c := range need.Missing {
		if _, ok := where[c]; !ok {
			return res, fmt.Errorf("the host asked for chunk %.12s, which is not in this state", c)
		}
		total += ChunkSize
	}
	buf := make([]byte, sha256.Size+ChunkSize)
	var sent int64
	for _, c := range need.Missing {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		w := where[c]
		n, err := readAt(filepath.Join(dir, filepath.FromSlash(w.path)), w.off, buf[sha256.Size:])
		if err != nil {
			return res, err
		}
		sum := sha256.Sum256(buf[sha256.Size : sha256.Size+n])
		if hex.EncodeToString(sum[:]) != c {
			return res, fmt.Errorf("%s changed while syncing: run the sync again", w.path)
		}
		copy(buf, sum[:])
		if err := writeMsg(rw, msgChunk, buf[:sha256.Size+n]); err != nil {
			return res, fmt.Errorf("sending %s: %w", w.path, err)
		}
		sent += int64(n)
		res.Sent++
		if progress != nil {
			progress(sent, total)
		}
	}
	if err := writeMsg(rw, msgDone, nil); err != nil {
		return res, err
	}
	typ, b, err = readMsg(rw)
	if err != nil {
		return res, fmt.Errorf("reading the sync result: %w", err)
	}
	if typ == msgError {
		return res, hostError(b)
	}
	if typ != msgResult || json.Unmarshal(b, &res) != nil {
		return res, errors.New("the host's result is malformed")
	}
	if res.Conflict != "" {
		return res, fmt.Errorf("%w (this state is based on version %d, the host's latest is %d): the host kept it beside, as %s", ErrConflict, base, res.Latest, res.Conflict)
	}
	return res, nil
}

func hostError(b []byte) error {
	var e errorMsg
	_ = json.Unmarshal(b, &e)
	return fmt.Errorf("the host refused the sync: %s", e.Message)
}

func readAt(p string, off int64, buf []byte) (int, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := f.ReadAt(buf, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// Journal is the Sonic's record of its syncs, one entry per host, written
// atomically: a sync that was cut off is visible as pending, and the next
// one resumes from what the host already holds.
type Journal struct{ File string }

// HostEntry is the journal of one host.
type HostEntry struct {
	// Base is the host version the local state was last synced as.
	Base       int       `json:"base"`
	ManifestID string    `json:"manifest_id,omitempty"` // of that state
	LastSync   time.Time `json:"last_sync,omitzero"`
	// Pending is a sync started and not finished (link cut, power off).
	Pending  *Pending `json:"pending,omitempty"`
	Conflict string   `json:"conflict,omitempty"`
	StateDir string   `json:"state_dir,omitempty"`
}

// Pending is an unfinished sync.
type Pending struct {
	ManifestID string    `json:"manifest_id"`
	Started    time.Time `json:"started"`
	Files      int       `json:"files"`
	Bytes      int64     `json:"bytes"`
}

// Load reads the journal; none is empty.
func (j Journal) Load() (map[string]HostEntry, error) {
	b, err := os.ReadFile(j.File)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]HostEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the sync journal: %w", err)
	}
	m := map[string]HostEntry{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the sync journal %s is damaged (%v): remove it, the next sync then re-checks everything with the host", j.File, err)
	}
	return m, nil
}

// Update changes the entry of host.
func (j Journal) Update(host string, f func(*HostEntry)) error {
	m, err := j.Load()
	if err != nil {
		return err
	}
	e := m[host]
	f(&e)
	m[host] = e
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(j.File, append(b, '\n'), 0o600)
}

// ScanCache is the Sonic's cache of chunk hashes per state folder, so an
// incremental sync reads only the files that changed.
type ScanCache struct{ File string }

// Scan scans dir through the cache and saves the cache.
func (c ScanCache) Scan(dir string) (*Manifest, error) {
	all := map[string]map[string]CacheEntry{}
	if b, err := os.ReadFile(c.File); err == nil {
		// A damaged cache only costs a full read.
		_ = json.Unmarshal(b, &all)
	}
	if all == nil {
		all = map[string]map[string]CacheEntry{}
	}
	entries := all[dir]
	if entries == nil {
		entries = map[string]CacheEntry{}
	}
	m, err := ScanCached(dir, entries)
	if err != nil {
		return nil, err
	}
	all[dir] = entries
	if b, err := json.Marshal(all); err == nil {
		_ = atomicfile.WriteFile(c.File, b, 0o600)
	}
	return m, nil
}
