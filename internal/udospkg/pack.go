package udospkg

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/atomicfile"

	"github.com/fredbook/udos-dist/internal/tarball"
)

// PackOptions tune Pack.
type PackOptions struct {
	// Version, when not empty, replaces the source manifest's version (a
	// release tag "v1.2.3" is accepted and its "v" dropped).
	Version string
	// MTime is every entry's mtime (SOURCE_DATE_EPOCH); the zero value
	// means the Unix epoch, so that packing is reproducible by default.
	MTime time.Time
}

// PackResult describes a package just written.
type PackResult struct {
	Manifest *Manifest
	SHA256   string // of the whole archive, lower-case hex
	SHA512   string
	Size     int64
	FileName string // <id>-v<version>.udos-package
}

// skipInSource leaves out what a working copy collects but a package must
// not carry: Python caches, editor and OS litter, hidden files.
func skipInSource(rel string, d fs.DirEntry) bool {
	base := d.Name()
	switch {
	case strings.HasPrefix(base, "."):
		return true
	case d.IsDir() && base == "__pycache__":
		return true
	case !d.IsDir() && (strings.HasSuffix(base, ".pyc") || strings.HasSuffix(base, ".pyo")):
		return true
	}
	return false
}

// payloadEntries lists the payload of srcDir in archive order: lib/,
// docs/, examples/ (each sorted), then requirements.txt.
func payloadEntries(srcDir string) ([]tarball.Entry, error) {
	var out []tarball.Entry
	for _, root := range PayloadRoots {
		dir := filepath.Join(srcDir, root)
		fi, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			if root == "lib" {
				return nil, fmt.Errorf("library source %q has no lib/ folder", srcDir)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%q is not a directory", dir)
		}
		entries, err := tarball.FromDir(dir, func(rel string, d fs.DirEntry) bool { return !skipInSource(rel, d) })
		if err != nil {
			return nil, err
		}
		out = append(out, tarball.Prefix(root, entries)...)
	}
	req := filepath.Join(srcDir, RequirementsFile)
	if _, err := os.Lstat(req); err == nil {
		e, err := tarball.File(RequirementsFile, req)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return out, nil
}

func fileSHA256(e tarball.Entry) (string, error) {
	rc, err := e.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", fmt.Errorf("reading %q: %w", e.Name, err)
	}
	if n != e.Size {
		return "", fmt.Errorf("reading %q: size changed while packing", e.Name)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// BuildManifest reads srcDir/manifest.json, applies opts.Version and fills
// in files and checksums from the payload on disk. It returns the complete
// manifest and the payload entries in archive order.
func BuildManifest(srcDir string, opts PackOptions) (*Manifest, []tarball.Entry, error) {
	mpath := filepath.Join(srcDir, ManifestName)
	data, err := os.ReadFile(mpath)
	if err != nil {
		return nil, nil, fmt.Errorf("reading library manifest: %w", err)
	}
	m, err := ParseSourceManifest(data)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.File = mpath
		}
		return nil, nil, err
	}
	if opts.Version != "" {
		m.Version = strings.TrimPrefix(opts.Version, "v")
	}
	entries, err := payloadEntries(srcDir)
	if err != nil {
		return nil, nil, fmt.Errorf("packing %q: %w", srcDir, err)
	}
	m.Files = map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		sum, err := fileSHA256(e)
		if err != nil {
			return nil, nil, fmt.Errorf("packing %q: %w", srcDir, err)
		}
		m.Files[e.Name] = sum
	}
	m.Checksums = Checksums{SHA256: PayloadDigest(m.Files)}
	if err := m.Validate(); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.File = mpath
		}
		return nil, nil, err
	}
	return m, entries, nil
}

// Pack writes the package of the library source folder srcDir to w. The
// same folder contents and options give the same bytes on every machine.
func Pack(srcDir string, w io.Writer, opts PackOptions) (*PackResult, error) {
	m, payload, err := BuildManifest(srcDir, opts)
	if err != nil {
		return nil, err
	}
	mjson, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	entries := append([]tarball.Entry{tarball.Bytes(ManifestName, 0o644, mjson)}, payload...)
	mtime := opts.MTime
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	h256, h512 := sha256.New(), sha512.New()
	cw := &countWriter{w: io.MultiWriter(w, h256, h512)}
	// Serial gzip at the default level: the bytes are part of the contract
	// (golden digests), and packages are small.
	if err := tarball.Write(cw, entries, tarball.Options{MTime: mtime}); err != nil {
		return nil, fmt.Errorf("packing %q: %w", srcDir, err)
	}
	return &PackResult{
		Manifest: m,
		SHA256:   hex.EncodeToString(h256.Sum(nil)),
		SHA512:   hex.EncodeToString(h512.Sum(nil)),
		Size:     cw.n,
		FileName: m.FileName(),
	}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// PackFile packs srcDir into outPath, atomically: the package appears
// complete or not at all. When outPath is an existing directory, the file
// is written inside it under its canonical name (PackResult.FileName).
func PackFile(srcDir, outPath string, opts PackOptions) (*PackResult, error) {
	if fi, err := os.Stat(outPath); err == nil && fi.IsDir() {
		m, _, err := BuildManifest(srcDir, opts)
		if err != nil {
			return nil, err
		}
		outPath = filepath.Join(outPath, m.FileName())
	}
	var res *PackResult
	err := atomicfile.Write(outPath, 0o644, func(w io.Writer) error {
		var err error
		res, err = Pack(srcDir, w, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
