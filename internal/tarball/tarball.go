// Package tarball writes byte-for-byte reproducible tar.gz archives: the same
// entries and options give the same bytes on every machine, whatever the
// files' mtimes, owners or the umask of the checkout they came from.
package tarball

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
)

// Entry is one member of an archive.
type Entry struct {
	// Name is the slash-separated path inside the archive; directories end in "/".
	Name string
	// Mode carries only the executable bit that matters: any 0o111 bit set
	// makes a file 0755, otherwise 0644. Directories are always 0755.
	Mode int64
	// Size of a regular file's contents; it must match what Open yields.
	Size int64
	// Open returns the contents of a regular file; nil for directories.
	Open func() (io.ReadCloser, error)
}

// IsDir reports whether e is a directory entry.
func (e Entry) IsDir() bool { return strings.HasSuffix(e.Name, "/") }

// Bytes is an Entry for in-memory contents.
func Bytes(name string, mode int64, b []byte) Entry {
	return Entry{Name: name, Mode: mode, Size: int64(len(b)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(b))), nil
	}}
}

// File is an Entry for a file on disk, stat'ed now.
func File(name, diskPath string) (Entry, error) {
	fi, err := os.Lstat(diskPath)
	if err != nil {
		return Entry{}, fmt.Errorf("adding %q: %w", diskPath, err)
	}
	if !fi.Mode().IsRegular() {
		return Entry{}, fmt.Errorf("adding %q: not a regular file (%s)", diskPath, fi.Mode().Type())
	}
	return Entry{Name: name, Mode: int64(fi.Mode().Perm()), Size: fi.Size(), Open: func() (io.ReadCloser, error) {
		return os.Open(diskPath)
	}}, nil
}

// Dir is a directory Entry.
func Dir(name string) Entry {
	if !strings.HasSuffix(name, "/") {
		name += "/"
	}
	return Entry{Name: name, Mode: 0o755}
}

// FromDir lists root as archive entries with names relative to root, sorted.
// filter, when not nil, decides per path (relative, slash-separated) whether
// to keep it; returning false for a directory skips its whole subtree.
// Only regular files and directories are allowed: a symlink, device, socket
// or pipe is refused with an error naming it, since an archive of ours never
// carries links out of the tree.
func FromDir(root string, filter func(rel string, d fs.DirEntry) bool) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %q: %w", p, err)
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if filter != nil && !filter(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			out = append(out, Dir(rel))
		case d.Type().IsRegular():
			e, err := File(rel, p)
			if err != nil {
				return err
			}
			out = append(out, e)
		default:
			return fmt.Errorf("%q is a %s: only regular files and directories can be archived", p, d.Type())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	Sort(out)
	return out, nil
}

// Sort orders entries by name, byte-wise, the order `tar --sort=name` uses.
func Sort(entries []Entry) {
	sort.SliceStable(entries, func(i, j int) bool {
		return strings.TrimSuffix(entries[i].Name, "/") < strings.TrimSuffix(entries[j].Name, "/")
	})
}

// Prefix returns entries with every name placed under dir (e.g. "udos-1.4.6/").
func Prefix(dir string, entries []Entry) []Entry {
	dir = strings.TrimSuffix(dir, "/") + "/"
	out := make([]Entry, 0, len(entries)+1)
	out = append(out, Dir(dir))
	for _, e := range entries {
		e.Name = dir + e.Name
		out = append(out, e)
	}
	return out
}

// Options fix everything that would otherwise vary between builds.
type Options struct {
	// MTime is every entry's modification time (SOURCE_DATE_EPOCH).
	MTime time.Time
	// Level is the gzip level, 1..9; 0 means 6 (gzip's default).
	Level int
	// Parallel compresses in independent blocks on every core. The bytes
	// differ from the serial stream but are just as reproducible.
	Parallel bool
}

// Write writes entries, in the given order, as a tar.gz stream to w.
func Write(w io.Writer, entries []Entry, opts Options) error {
	level := opts.Level
	if level == 0 {
		level = 6
	}
	var zw io.WriteCloser
	if opts.Parallel {
		pw, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return err
		}
		// A fixed block size keeps the output independent of the core count.
		if err := pw.SetConcurrency(1<<20, 16); err != nil {
			return err
		}
		// pgzip writes the zero time.Time as a bogus stamp: the epoch is "no time".
		pw.Header = pgzip.Header{OS: 255, ModTime: time.Unix(0, 0)}
		zw = pw
	} else {
		gw, err := kgzip.NewWriterLevel(w, level)
		if err != nil {
			return err
		}
		// No name, no time, OS "unknown": like `gzip -n`.
		gw.Header = kgzip.Header{OS: 255}
		zw = gw
	}
	if err := WriteTar(zw, entries, opts.MTime); err != nil {
		zw.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finishing gzip stream: %w", err)
	}
	return nil
}

// WriteTar writes the uncompressed tar stream.
func WriteTar(w io.Writer, entries []Entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	seen := make(map[string]bool, len(entries))
	mt := mtime.UTC().Truncate(time.Second)
	for _, e := range entries {
		name := e.Name
		clean := strings.TrimSuffix(name, "/")
		if clean == "" || path.IsAbs(clean) || path.Clean(clean) != clean || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("archive entry %q: not a clean relative path", name)
		}
		if seen[clean] {
			return fmt.Errorf("archive entry %q: duplicate", name)
		}
		seen[clean] = true
		hdr := &tar.Header{
			Name:    name,
			ModTime: mt,
			Format:  tar.FormatGNU,
		}
		if e.IsDir() {
			hdr.Typeflag = tar.TypeDir
			hdr.Mode = 0o755
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Mode = 0o644
			if e.Mode&0o111 != 0 {
				hdr.Mode = 0o755
			}
			hdr.Size = e.Size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive entry %q: %w", name, err)
		}
		if e.IsDir() {
			continue
		}
		if e.Open == nil {
			return fmt.Errorf("archive entry %q: no contents", name)
		}
		rc, err := e.Open()
		if err != nil {
			return fmt.Errorf("archive entry %q: %w", name, err)
		}
		n, err := io.Copy(tw, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("archive entry %q: %w", name, err)
		}
		if n != e.Size {
			return fmt.Errorf("archive entry %q: size changed while archiving (%d, expected %d)", name, n, e.Size)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finishing tar stream: %w", err)
	}
	return nil
}
