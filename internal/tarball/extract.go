package tarball

// The reading half of the package: Walk and Scan check an untrusted tar.gz
// without writing anything, and Extract writes one under a directory without
// ever writing outside it. Both refuse everything an archive of ours never
// contains (links, devices, absolute or "../" names, duplicates, names that
// collide on case-insensitive file systems), so a hostile archive fails with
// a clear error instead of doing something surprising. What Walk accepts,
// Extract can write on every file system a user may have: no name is
// both a file and a directory (implicit parents included), and no two
// paths, or parents of paths, fold to the same name.

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/fredbook/udos-dist/internal/clip"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Sentinel errors wrapped by every refusal, so callers can tell the kinds
// apart with errors.Is. The message of the wrapping error names the entry.
var (
	ErrUnsafePath    = errors.New("unsafe path")                             // absolute, "..", unclean, backslash, NUL, not UTF-8
	ErrLink          = errors.New("links are not allowed")                   // symlink or hardlink
	ErrSpecialFile   = errors.New("only regular files and directories")      // device, fifo, sparse, unknown type
	ErrDuplicate     = errors.New("duplicate entry")                         // same name twice, or a file used as a directory
	ErrCaseCollision = errors.New("names differ only by case")               // collide on macOS/Windows file systems
	ErrTooLarge      = errors.New("entry too large")                         // one file over MaxFileSize
	ErrTooMany       = errors.New("too many entries")                        // over MaxFiles
	ErrBomb          = errors.New("archive expands too much")                // total or ratio limit: a decompression bomb
	ErrCorrupt       = errors.New("corrupt or truncated archive")            // bad gzip/tar framing or checksum
	ErrTrailingData  = errors.New("data after the end of the archive")       // after the end-of-archive marker, or a second gzip member; always with ErrCorrupt
	ErrExists        = errors.New("destination already holds this path")     // Extract never overwrites
	errStopWalk      = errors.New("tarball: stop walking (internal marker)") // see SkipRest
)

// SkipRest, returned by a Walk callback, ends the walk early without error
// (the rest of the archive is then neither read nor checked).
var SkipRest = errStopWalk

// Limits bound what reading an archive may cost. A zero field takes the
// value of DefaultLimits.
type Limits struct {
	MaxFiles    int64 // entries, directories included
	MaxFileSize int64 // bytes of one regular file
	MaxTotal    int64 // bytes of all regular files together
	// MaxRatio bounds uncompressed/compressed size once more than
	// ratioFloor bytes have come out of the decompressor. gzip cannot
	// exceed about 1032:1, so any ratio below that catches a bomb early.
	MaxRatio int64
}

// DefaultLimits suit library packages and release archives alike.
var DefaultLimits = Limits{
	MaxFiles:    20000,
	MaxFileSize: 256 << 20,
	MaxTotal:    1 << 30,
	MaxRatio:    200,
}

// ratioFloor: below this many decompressed bytes the ratio is not checked,
// since a small archive of text (or tar padding) legitimately compresses
// far better than its bulk would.
const ratioFloor = 4 << 20

func (l Limits) withDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultLimits.MaxFileSize
	}
	if l.MaxTotal <= 0 {
		l.MaxTotal = DefaultLimits.MaxTotal
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultLimits.MaxRatio
	}
	return l
}

// Header describes one entry as Walk sees it.
type Header struct {
	Name  string // clean slash path; directories end in "/"
	IsDir bool
	Mode  int64 // 0644 or 0755, normalised as Write does
	Size  int64 // regular files only
}

// counter counts bytes passing through a reader.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// bombGuard sits between the decompressor and the tar reader and stops the
// stream as soon as it expands past the limits.
type bombGuard struct {
	r          io.Reader
	compressed *counter
	n          int64
	maxStream  int64
	maxRatio   int64
}

func (b *bombGuard) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.maxStream {
		return n, fmt.Errorf("%w: more than %d bytes after decompression", ErrBomb, b.maxStream)
	}
	if b.n > ratioFloor && b.compressed.n > 0 && b.n/b.compressed.n > b.maxRatio {
		return n, fmt.Errorf("%w: %d bytes from %d compressed (ratio over %d:1)", ErrBomb, b.n, b.compressed.n, b.maxRatio)
	}
	return n, err
}

// Name limits: what every common file system can store.
const (
	maxNameLen      = 1024
	maxComponentLen = 255
)

// checkName returns the clean name of an entry or why it is unsafe.
func checkName(raw string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("entry %s: %w: %s", clip.Quote(raw), ErrUnsafePath, why)
	}
	switch {
	case raw == "" || raw == "/" || raw == "./":
		return bad("empty name")
	case !utf8.ValidString(raw):
		return bad("not valid UTF-8")
	case strings.ContainsRune(raw, 0):
		return bad("contains NUL")
	case strings.Contains(raw, `\`):
		return bad("contains a backslash (a separator on Windows)")
	case path.IsAbs(raw) || (len(raw) >= 2 && raw[1] == ':'):
		return bad("absolute path")
	}
	clean := strings.TrimSuffix(raw, "/")
	if len(clean) > maxNameLen {
		return bad(fmt.Sprintf("longer than %d bytes", maxNameLen))
	}
	for _, part := range strings.Split(clean, "/") {
		if part == ".." {
			return bad(`contains ".." (path traversal)`)
		}
		if len(part) > maxComponentLen {
			return bad(fmt.Sprintf("a component is longer than %d bytes", maxComponentLen))
		}
	}
	if path.Clean(clean) != clean {
		return bad("not a clean path (\"//\", \"./\" or similar)")
	}
	return clean, nil
}

// Walk reads a gzip-compressed tar from r and calls fn for every entry in
// order, with a reader of a regular file's contents (nil for directories).
// Nothing is written anywhere. Every entry is checked before fn sees it, and
// the stream is read to its end so that a truncated or corrupt gzip is
// reported even after the last entry. fn may return SkipRest to stop early.
func Walk(r io.Reader, lim Limits, fn func(h Header, contents io.Reader) error) error {
	lim = lim.withDefaults()
	cr := &counter{r: r}
	br := bufio.NewReader(cr)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return fmt.Errorf("%w: reading gzip header: %v", ErrCorrupt, err)
	}
	defer zr.Close()
	// One gzip member only: a second one is an archive hidden behind ours.
	zr.Multistream(false)
	// The tar stream carries 512-byte headers and padding on top of the
	// files' bytes; a long name adds its own header and up to three blocks
	// (maxNameLen), hence eight blocks an entry at most.
	guard := &bombGuard{r: zr, compressed: cr, maxStream: lim.MaxTotal + (lim.MaxFiles+2)*8*512 + 64<<10, maxRatio: lim.MaxRatio}
	tr := tar.NewReader(guard)

	paths := newPathSet()
	var files, total int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return readErr(err, "reading entry header")
		}
		files++
		if files > lim.MaxFiles {
			return fmt.Errorf("%w: more than %d", ErrTooMany, lim.MaxFiles)
		}
		name, err := checkName(hdr.Name)
		if err != nil {
			return err
		}
		quoted := clip.Quote(hdr.Name)
		h := Header{Name: name, Mode: 0o644}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			// archive/tar expands GNU sparse files given in PAX records
			// (formats 0.0, 0.1, 1.0) into regular entries whose holes
			// read as zeros: a few bytes in the archive can become
			// gigabytes on disk, past the guard, which counts what was
			// decompressed, not what the holes add.
			if key, ok := sparseRecord(hdr.PAXRecords); ok {
				return fmt.Errorf("entry %s: %w (sparse file: PAX record %s)", quoted, ErrSpecialFile, clip.Quote(key))
			}
			if hdr.Size < 0 || hdr.Size > lim.MaxFileSize {
				return fmt.Errorf("entry %s: %w: %d bytes (limit %d)", quoted, ErrTooLarge, hdr.Size, lim.MaxFileSize)
			}
			if strings.HasSuffix(hdr.Name, "/") {
				return fmt.Errorf("entry %s: %w: a regular file whose name ends in \"/\"", quoted, ErrUnsafePath)
			}
			total += hdr.Size
			if total > lim.MaxTotal {
				return fmt.Errorf("%w: files total more than %d bytes", ErrBomb, lim.MaxTotal)
			}
			h.Size = hdr.Size
			if hdr.Mode&0o111 != 0 {
				h.Mode = 0o755
			}
		case tar.TypeDir:
			h.IsDir, h.Mode, h.Name = true, 0o755, name+"/"
		case tar.TypeSymlink:
			return fmt.Errorf("entry %s: %w (symlink to %s)", quoted, ErrLink, clip.Quote(hdr.Linkname))
		case tar.TypeLink:
			return fmt.Errorf("entry %s: %w (hardlink to %s)", quoted, ErrLink, clip.Quote(hdr.Linkname))
		case tar.TypeChar, tar.TypeBlock:
			return fmt.Errorf("entry %s: %w (device file)", quoted, ErrSpecialFile)
		case tar.TypeFifo:
			return fmt.Errorf("entry %s: %w (named pipe)", quoted, ErrSpecialFile)
		case tar.TypeGNUSparse:
			return fmt.Errorf("entry %s: %w (sparse file, old GNU format)", quoted, ErrSpecialFile)
		default:
			return fmt.Errorf("entry %s: %w (tar type %q)", quoted, ErrSpecialFile, hdr.Typeflag)
		}
		if err := paths.add(name, h.IsDir); err != nil {
			return fmt.Errorf("entry %s: %w", quoted, err)
		}

		var contents io.Reader
		if !h.IsDir {
			contents = &entryReader{r: io.LimitReader(tr, h.Size), name: hdr.Name}
		}
		if err := fn(h, contents); err != nil {
			if errors.Is(err, errStopWalk) {
				return nil
			}
			return err
		}
		if !h.IsDir {
			// Whatever fn left unread still has to pass through the checks.
			if _, err := io.Copy(io.Discard, contents); err != nil {
				return readErr(err, fmt.Sprintf("reading entry %s", quoted))
			}
		}
	}
	// Read to the gzip trailer so its CRC and length are checked: a tar
	// reader stops at the end-of-archive blocks and would not notice.
	// What follows the marker may only be the zero padding tar writes up
	// to its record size: GNU tar (with --ignore-zeros) and Python's
	// tarfile list entries hidden after it, which this reader would skip.
	var z zeroWriter
	if _, err := io.Copy(&z, guard); err != nil {
		if errors.Is(err, ErrTrailingData) {
			return err
		}
		return readErr(err, "reading the end of the archive")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if err != nil {
			return readErr(err, "reading after the gzip stream")
		}
		return fmt.Errorf("%w: %w: bytes after the end of the gzip stream (a second gzip member or appended data)", ErrCorrupt, ErrTrailingData)
	}
	return nil
}

// sparseRecord returns a PAX record that makes an entry a sparse file:
// GNU tar's GNU.sparse.* keys, or star's SCHILY.realsize and
// SCHILY.filetype=sparse. Keys are matched without regard to case, since
// a reader that does could be fooled by "gnu.SPARSE.map".
func sparseRecord(records map[string]string) (string, bool) {
	for k, v := range records {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "gnu.sparse.") || lk == "schily.realsize" ||
			(lk == "schily.filetype" && strings.EqualFold(v, "sparse")) {
			return k, true
		}
	}
	return "", false
}

// zeroWriter accepts only zero bytes: tar's padding after the
// end-of-archive marker.
type zeroWriter struct{ n int64 }

func (z *zeroWriter) Write(p []byte) (int, error) {
	for i, c := range p {
		if c != 0 {
			return i, fmt.Errorf("%w: %w: non-zero data %d bytes after the end-of-archive marker", ErrCorrupt, ErrTrailingData, z.n+int64(i))
		}
	}
	z.n += int64(len(p))
	return len(p), nil
}

// pathSet is what an archive's entries would create on disk, checked as
// they come: every name and every parent folder it implies.
type pathSet struct {
	kind   map[string]pathKind // clean name -> what it is
	folded map[string]string   // case-folded, normalised name -> the name
	fold   cases.Caser
}

type pathKind uint8

const (
	implicitDir pathKind = iota + 1 // a parent of some entry, with no entry of its own (yet)
	explicitDir
	regularFile
)

func newPathSet() *pathSet {
	return &pathSet{kind: map[string]pathKind{}, folded: map[string]string{}, fold: cases.Fold()}
}

// add records an entry. It refuses a second entry for a name, a file where
// an earlier entry implied a directory (lib/h/i/x.py, then a file lib/h/i),
// a directory under a file, and any name or parent that differs from an
// earlier one only by case or Unicode normalisation.
func (s *pathSet) add(name string, isDir bool) error {
	switch k := s.kind[name]; {
	case k == implicitDir && isDir:
		// "lib/a/x.py" then "lib/a/": the directory was already on its way.
	case k == implicitDir:
		return fmt.Errorf("%w: a file where earlier entries put a directory", ErrDuplicate)
	case k != 0:
		return ErrDuplicate
	}
	// Every parent, outermost first: a file parent makes extraction fail
	// half-way (or, on some systems, replace the file).
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		p := name[:i]
		switch s.kind[p] {
		case regularFile:
			return fmt.Errorf("%w: its parent %s is a file", ErrDuplicate, clip.Quote(p))
		case 0:
			s.kind[p] = implicitDir
		}
		if err := s.addFolded(p); err != nil {
			return err
		}
	}
	if err := s.addFolded(name); err != nil {
		return err
	}
	if isDir {
		s.kind[name] = explicitDir
	} else {
		s.kind[name] = regularFile
	}
	return nil
}

// addFolded refuses p when another path folds to the same key. macOS and
// Windows compare names without regard to case (with Unicode's folding:
// "σ" and "ς" are one letter there) and macOS without regard to
// normalisation (NFC "é" and NFD "é"); comparing full case folding of the
// canonical decomposition is stricter than any of them.
func (s *pathSet) addFolded(p string) error {
	key := norm.NFD.String(s.fold.String(norm.NFD.String(p)))
	if prev, ok := s.folded[key]; ok && prev != p {
		return fmt.Errorf("%w with %s (they would collide on macOS and Windows)", ErrCaseCollision, clip.Quote(prev))
	}
	s.folded[key] = p
	return nil
}

// entryReader hands an entry's contents to a Walk callback, classifying
// read failures (a truncated stream, a bad checksum) like Walk's own.
type entryReader struct {
	r    io.Reader
	name string
}

func (e *entryReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = readErr(err, fmt.Sprintf("reading entry %s", clip.Quote(e.name)))
	}
	return n, err
}

// readErr classifies errors coming out of the gzip/tar readers.
func readErr(err error, doing string) error {
	if errors.Is(err, ErrBomb) || errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, doing, err)
}

// Scan checks an archive like Walk and returns its headers in order,
// reading every byte but writing nothing.
func Scan(r io.Reader, lim Limits) ([]Header, error) {
	var out []Header
	err := Walk(r, lim, func(h Header, _ io.Reader) error {
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Extract checks and writes a gzip-compressed tar from r under dst (created
// if missing) and returns the names it wrote, in archive order. Files are
// 0644 or 0755, directories 0755; existing files are never overwritten
// (ErrExists). All writes go through an os.Root opened on dst, so no name or
// link can lead outside it.
//
// Extract streams: it cannot know an entry near the end is bad before it has
// written the earlier ones. On any error it removes everything it created,
// leaving dst as it found it. Callers that need an all-or-nothing install
// should extract into a fresh temporary directory next to the final place
// (same file system) and rename it into place once Extract and any further
// checks have passed.
func Extract(r io.Reader, dst string, lim Limits) (names []string, err error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, fmt.Errorf("creating %q: %w", dst, err)
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return nil, fmt.Errorf("opening %q: %w", dst, err)
	}
	defer root.Close()

	var created []string // native paths relative to dst, in creation order
	defer func() {
		if err == nil {
			return
		}
		names = nil
		for i := len(created) - 1; i >= 0; i-- {
			// Best effort: a failure here cannot be reported better than
			// the error that got us here.
			_ = root.Remove(created[i])
		}
	}()

	mkdirs := func(rel string) error {
		parts := strings.Split(rel, "/")
		for i := range parts {
			p := filepath.FromSlash(strings.Join(parts[:i+1], "/"))
			err := root.Mkdir(p, 0o755)
			switch {
			case err == nil:
				created = append(created, p)
			case errors.Is(err, fs.ErrExist):
				fi, lerr := root.Lstat(p)
				if lerr != nil {
					return fmt.Errorf("creating directory %q: %w", p, lerr)
				}
				if !fi.IsDir() {
					return fmt.Errorf("creating directory %q: %w (as a non-directory)", p, ErrExists)
				}
			default:
				return fmt.Errorf("creating directory %q: %w", p, err)
			}
		}
		return nil
	}

	err = Walk(r, lim, func(h Header, contents io.Reader) error {
		clean := strings.TrimSuffix(h.Name, "/")
		if h.IsDir {
			if err := mkdirs(clean); err != nil {
				return err
			}
			names = append(names, h.Name)
			return nil
		}
		if dir := path.Dir(clean); dir != "." {
			if err := mkdirs(dir); err != nil {
				return err
			}
		}
		p := filepath.FromSlash(clean)
		f, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fs.FileMode(h.Mode))
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("writing %q: %w", clean, ErrExists)
			}
			return fmt.Errorf("writing %q: %w", clean, err)
		}
		created = append(created, p)
		n, err := io.Copy(f, contents)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return readErr(err, fmt.Sprintf("writing entry %q", clean))
		}
		if n != h.Size {
			return fmt.Errorf("%w: entry %q: %d bytes, header says %d", ErrCorrupt, clean, n, h.Size)
		}
		// The umask may have removed bits; the archive's mode is the contract.
		if err := root.Chmod(p, fs.FileMode(h.Mode)); err != nil {
			return fmt.Errorf("setting mode of %q: %w", clean, err)
		}
		names = append(names, h.Name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}
