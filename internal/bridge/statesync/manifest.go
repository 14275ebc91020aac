// Package statesync pushes a Sonic's state directory to a Wizard host:
// content-addressed chunks (sha256, 1 MiB), resumable after a dropped link
// without re-sending what arrived (every chunk is stored on the host as it
// comes), and each completed sync published atomically on the host as a new
// version directory (temp + fsync + rename, then the `current` link is
// swapped), older versions kept up to a count. A sync based on another
// version than the host's latest is kept beside it as a conflict, never over
// it.
package statesync

import (
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
	"strings"
)

// ChunkSize is the size of every chunk but a file's last.
const ChunkSize = 1 << 20

// File is one regular file of the state.
type File struct {
	Path   string   `json:"path"` // slash-separated, relative
	Mode   uint32   `json:"mode"` // permission bits
	Size   int64    `json:"size"`
	Chunks []string `json:"chunks"` // hex sha256 of each chunk
}

// Manifest describes one state tree.
type Manifest struct {
	Files []File   `json:"files"`
	Dirs  []string `json:"dirs,omitempty"` // empty directories
}

// ID is the manifest's digest: equal trees have equal IDs.
func (m *Manifest) ID() string {
	b, _ := json.Marshal(m)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Size is the total size of the files.
func (m *Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Scan reads dir into a manifest. Only regular files and directories are
// state: a symlink or device is refused (naming it), since following one
// could ship what lies outside the tree.
func Scan(dir string) (*Manifest, error) { return ScanCached(dir, nil) }

// CacheEntry remembers a file's chunk hashes with what identifies its
// contents cheaply (size, mtime, ctime, inode), as git's index does.
type CacheEntry struct {
	Size   int64    `json:"size"`
	Mtime  int64    `json:"mtime"`
	Ctime  int64    `json:"ctime"`
	Ino    uint64   `json:"ino"`
	Chunks []string `json:"chunks"`
}

// ScanCached is Scan that re-reads only files whose size, times or inode
// differ from cache (keyed by relative path), and updates cache. A nil cache
// reads everything.
func ScanCached(dir string, cache map[string]CacheEntry) (*Manifest, error) {
	m := &Manifest{}
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			m.Dirs = append(m.Dirs, rel)
			return nil
		case d.Type().IsRegular():
		default:
			return fmt.Errorf("%s is a %s: only regular files and folders are synced (remove it or move it out of the state folder)", p, typeName(d.Type()))
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		f := File{Path: rel, Mode: uint32(fi.Mode().Perm()), Size: fi.Size()}
		key := statKey(fi)
		key.Size = fi.Size()
		if c, ok := cache[rel]; ok && cache != nil && c.Size == key.Size && c.Mtime == key.Mtime && c.Ctime == key.Ctime && c.Ino == key.Ino && key.Ino != 0 {
			f.Chunks = c.Chunks
		} else if f.Chunks, err = chunkFile(p); err != nil {
			return err
		}
		if cache != nil {
			key.Chunks = f.Chunks
			cache[rel] = key
			seen[rel] = true
		}
		m.Files = append(m.Files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the state folder: %w", err)
	}
	for k := range cache {
		if !seen[k] {
			delete(cache, k)
		}
	}
	// Only directories with nothing under them need listing.
	var empty []string
	for _, d := range m.Dirs {
		used := false
		for _, f := range m.Files {
			if strings.HasPrefix(f.Path, d+"/") {
				used = true
				break
			}
		}
		for _, o := range m.Dirs {
			if strings.HasPrefix(o, d+"/") {
				used = true
			}
		}
		if !used {
			empty = append(empty, d)
		}
	}
	m.Dirs = empty
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	sort.Strings(m.Dirs)
	return m, nil
}

func typeName(t fs.FileMode) string {
	switch {
	case t&fs.ModeSymlink != 0:
		return "symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

func chunkFile(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	buf := make([]byte, ChunkSize)
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			s := sha256.Sum256(buf[:n])
			out = append(out, hex.EncodeToString(s[:]))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
	}
}

// Validate refuses a manifest a host must not materialize: paths that are
// absolute, climb out with "..", or repeat; chunk ids that are not hashes.
func (m *Manifest) Validate() error {
	seen := map[string]bool{}
	check := func(p string) error {
		if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
			return fmt.Errorf("bad path %q in the state manifest", p)
		}
		for _, el := range strings.Split(p, "/") {
			if el == "" || el == "." || el == ".." {
				return fmt.Errorf("path %q in the state manifest leaves the tree or is not clean", p)
			}
		}
		if seen[p] {
			return fmt.Errorf("path %q appears twice in the state manifest", p)
		}
		seen[p] = true
		return nil
	}
	for _, f := range m.Files {
		if err := check(f.Path); err != nil {
			return err
		}
		if f.Size < 0 || int64(len(f.Chunks)) != (f.Size+ChunkSize-1)/ChunkSize {
			return fmt.Errorf("file %q: %d chunks for %d bytes", f.Path, len(f.Chunks), f.Size)
		}
		for _, c := range f.Chunks {
			if !validHash(c) {
				return fmt.Errorf("file %q: bad chunk id %q", f.Path, c)
			}
		}
	}
	for _, d := range m.Dirs {
		if err := check(d); err != nil {
			return err
		}
	}
	// A file may not sit where another entry needs a folder.
	for p := range seen {
		for i := strings.IndexByte(p, '/'); i >= 0; i = strings.IndexByte(p[i+1:], '/') + i + 1 {
			if seen[p[:i]] {
				for _, f := range m.Files {
					if f.Path == p[:i] {
						return fmt.Errorf("%q is both a file and a folder in the state manifest", p[:i])
					}
				}
			}
			if strings.IndexByte(p[i+1:], '/') < 0 {
				break
			}
		}
	}
	return nil
}

func validHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}
