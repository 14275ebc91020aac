// Package checksum computes SHA-256 and SHA-512 digests of release artifacts
// and reads and writes them in the format of GNU coreutils' sha256sum and
// sha512sum, so that users can check a download with `sha256sum -c`:
// per-file sidecars (`<file>.sha256`, `<file>.sha512`) and combined lists
// (`SHA256SUMS`, `SHA512SUMS`) that several builds merge into.
package checksum

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fredbook/udos-dist/internal/atomicfile"
)

// Algorithm names a supported digest.
type Algorithm string

// The supported algorithms. The value is also the sidecar extension
// (".sha256") without the dot.
const (
	SHA256 Algorithm = "sha256"
	SHA512 Algorithm = "sha512"
)

// SumsName returns the combined list's conventional file name:
// "SHA256SUMS" or "SHA512SUMS".
func (a Algorithm) SumsName() string { return strings.ToUpper(string(a)) + "SUMS" }

// Ext returns the sidecar extension: ".sha256" or ".sha512".
func (a Algorithm) Ext() string { return "." + string(a) }

func (a Algorithm) hexLen() int {
	switch a {
	case SHA256:
		return 64
	case SHA512:
		return 128
	}
	return 0
}

// Valid reports whether s is a digest of this algorithm as udos-dist writes
// them everywhere: lower-case hex of the right length.
func (a Algorithm) Valid(s string) bool {
	if n := a.hexLen(); n == 0 || len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (a Algorithm) valid() error {
	if a.hexLen() == 0 {
		return fmt.Errorf("unknown checksum algorithm %q", string(a))
	}
	return nil
}

// Digests are the size and both digests (lower-case hex) of one content.
type Digests struct {
	Size   int64
	SHA256 string
	SHA512 string
}

// Get returns the digest for an algorithm.
func (d Digests) Get(a Algorithm) string {
	switch a {
	case SHA256:
		return d.SHA256
	case SHA512:
		return d.SHA512
	}
	return ""
}

// Hasher is an io.Writer that takes the size and both digests of what is
// written through it, for producers that hash a file while writing it.
type Hasher struct {
	h256, h512 hash.Hash
	n          int64
}

// NewHasher returns an empty Hasher.
func NewHasher() *Hasher { return &Hasher{h256: sha256.New(), h512: sha512.New()} }

// Write hashes p; it never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	h.h256.Write(p)
	h.h512.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

// Digests returns the size and digests of everything written so far.
func (h *Hasher) Digests() Digests {
	return Digests{Size: h.n, SHA256: hexOf(h.h256), SHA512: hexOf(h.h512)}
}

// Sum reads r to the end and returns its size and digests, hashing both in
// one pass.
func Sum(r io.Reader) (Digests, error) {
	h := NewHasher()
	if _, err := io.Copy(h, r); err != nil {
		return Digests{}, err
	}
	return h.Digests(), nil
}

func hexOf(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// File returns the size and digests of the file at path.
func File(path string) (Digests, error) {
	f, err := os.Open(path)
	if err != nil {
		return Digests{}, fmt.Errorf("hashing %q: %w", path, err)
	}
	defer f.Close()
	d, err := Sum(f)
	if err != nil {
		return Digests{}, fmt.Errorf("hashing %q: %w", path, err)
	}
	return d, nil
}

// Line is one entry of a sha256sum-style list: a hex digest and a file name
// (a slash path relative to the list's directory).
type Line struct {
	Digest string
	Name   string
}

// Format returns the line as sha256sum prints it in text mode:
// "<hex>  <name>\n". Names holding a backslash or newline are escaped the way
// coreutils does (a leading backslash, "\\" and "\n"), so that `sha256sum -c`
// reads them back.
func (l Line) Format() string {
	name := l.Name
	prefix := ""
	if strings.ContainsAny(name, "\\\n\r") {
		prefix = "\\"
		name = strings.NewReplacer("\\", "\\\\", "\n", "\\n", "\r", "\\r").Replace(name)
	}
	return prefix + l.Digest + "  " + name + "\n"
}

func (l Line) check(a Algorithm) error {
	if len(l.Digest) != a.hexLen() {
		return fmt.Errorf("%s digest for %q has %d hex digits, want %d", a, l.Name, len(l.Digest), a.hexLen())
	}
	if _, err := hex.DecodeString(l.Digest); err != nil || strings.ToLower(l.Digest) != l.Digest {
		return fmt.Errorf("%s digest for %q is not lower-case hex: %q", a, l.Name, l.Digest)
	}
	if l.Name == "" {
		return errors.New("checksum line with an empty file name")
	}
	return nil
}

// Parse reads a sha256sum/sha512sum list. It accepts text ("  ") and binary
// (" *") mode separators and coreutils' escaped names, and ignores blank
// lines. Every digest must have the length of the algorithm's.
func Parse(r io.Reader, a Algorithm) ([]Line, error) {
	if err := a.valid(); err != nil {
		return nil, err
	}
	var lines []Line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		escaped := strings.HasPrefix(text, "\\")
		if escaped {
			text = text[1:]
		}
		hexLen := a.hexLen()
		if len(text) < hexLen+2 || (text[hexLen:hexLen+2] != "  " && text[hexLen:hexLen+2] != " *") {
			return nil, fmt.Errorf("line %d: not a %s line: %q", n, a, sc.Text())
		}
		l := Line{Digest: text[:hexLen], Name: text[hexLen+2:]}
		if escaped {
			name, err := unescape(l.Name)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			l.Name = name
		}
		if err := l.check(a); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return lines, nil
}

func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("dangling backslash in name %q", s)
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("unknown escape \\%c in name %q", s[i], s)
		}
	}
	return b.String(), nil
}

// Write writes lines in sha256sum text format, in the given order.
func Write(w io.Writer, lines []Line) error {
	bw := bufio.NewWriter(w)
	for _, l := range lines {
		if _, err := bw.WriteString(l.Format()); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Merge returns base with add merged in: an entry of add replaces the entry of
// base with the same name (a rebuilt artifact), the others are kept, and the
// result is sorted by name so that the merged list does not depend on the
// order in which builds finished.
func Merge(base, add []Line) []Line {
	byName := make(map[string]Line, len(base)+len(add))
	for _, l := range base {
		byName[l.Name] = l
	}
	for _, l := range add {
		byName[l.Name] = l
	}
	out := make([]Line, 0, len(byName))
	for _, l := range byName {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Sidecar writes `<path>.sha256` or `<path>.sha512` holding one line for the
// file's base name, so that `sha256sum -c file.sha256` works in the file's
// directory. It returns the sidecar's path.
func Sidecar(path string, a Algorithm, digest string) (string, error) {
	if err := a.valid(); err != nil {
		return "", err
	}
	l := Line{Digest: digest, Name: filepath.Base(path)}
	if err := l.check(a); err != nil {
		return "", err
	}
	out := path + a.Ext()
	if err := atomicfile.WriteFile(out, []byte(l.Format()), 0o644); err != nil {
		return "", fmt.Errorf("writing %q: %w", out, err)
	}
	return out, nil
}

// Sidecars hashes the file at path and writes both sidecars next to it. It
// returns the digests and the sidecar paths (.sha256 first).
func Sidecars(path string) (Digests, []string, error) {
	d, err := File(path)
	if err != nil {
		return Digests{}, nil, err
	}
	var paths []string
	for _, a := range []Algorithm{SHA256, SHA512} {
		p, err := Sidecar(path, a, d.Get(a))
		if err != nil {
			return Digests{}, nil, err
		}
		paths = append(paths, p)
	}
	return d, paths, nil
}

// MergeFile merges lines into the list file at path (created when absent),
// rewriting it sorted by name. An unreadable existing list is an error rather
// than silently replaced, so that nothing already listed is lost.
func MergeFile(path string, a Algorithm, lines ...Line) error {
	if err := a.valid(); err != nil {
		return err
	}
	for _, l := range lines {
		if err := l.check(a); err != nil {
			return fmt.Errorf("merging into %q: %w", path, err)
		}
	}
	var base []Line
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		base, err = Parse(bytes.NewReader(data), a)
		if err != nil {
			return fmt.Errorf("reading %q: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return fmt.Errorf("reading %q: %w", path, err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, Merge(base, lines)); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	return nil
}

// MergeFiles hashes each file and merges it, by base name, into SHA256SUMS and
// SHA512SUMS in dir. It returns the paths of the two lists.
func MergeFiles(dir string, files ...string) ([]string, error) {
	var l256, l512 []Line
	for _, f := range files {
		d, err := File(f)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(f)
		l256 = append(l256, Line{Digest: d.SHA256, Name: name})
		l512 = append(l512, Line{Digest: d.SHA512, Name: name})
	}
	p256 := filepath.Join(dir, SHA256.SumsName())
	p512 := filepath.Join(dir, SHA512.SumsName())
	if err := MergeFile(p256, SHA256, l256...); err != nil {
		return nil, err
	}
	if err := MergeFile(p512, SHA512, l512...); err != nil {
		return nil, err
	}
	return []string{p256, p512}, nil
}

// Mismatch describes one entry of a list that does not match the file.
type Mismatch struct {
	Name string
	Want string
	Got  string // empty when the file could not be read
	Err  error  // why the file could not be read
}

// Verify checks every entry of lines against the files under dir, like
// `sha256sum -c`. It returns the entries that failed; an empty result means
// every file matched.
func Verify(dir string, a Algorithm, lines []Line) []Mismatch {
	var bad []Mismatch
	for _, l := range lines {
		d, err := File(filepath.Join(dir, filepath.FromSlash(l.Name)))
		if err != nil {
			bad = append(bad, Mismatch{Name: l.Name, Want: l.Digest, Err: err})
			continue
		}
		if got := d.Get(a); got != l.Digest {
			bad = append(bad, Mismatch{Name: l.Name, Want: l.Digest, Got: got})
		}
	}
	return bad
}
