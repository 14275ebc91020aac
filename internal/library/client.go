package library

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// ProgressSink receives the bytes of one download (a progress bar).
type ProgressSink interface {
	io.Writer
	Reset()
	Done()
}

// Client runs udos-lib operations on one uDOS root.
type Client struct {
	Paths    Paths
	Registry string // URL or folder; "" when none is configured
	Trust    Trust
	Fetcher  *Fetcher
	Now      func() time.Time
	// Warn tells the user something without failing (stderr).
	Warn func(msg string)
	// Info reports progress in words (stderr).
	Info func(msg string)
	// Progress starts a progress bar for a download; nil means none.
	Progress func(label string, total int64) ProgressSink
	// Hook is called at named points (tests pause and kill there).
	Hook Hook
	// LockTimeout bounds the wait for another udos-lib process.
	LockTimeout time.Duration

	warned map[string]bool
	lock   *FileLock
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) warnOnce(msg string) {
	if c.warned == nil {
		c.warned = map[string]bool{}
	}
	if c.warned[msg] || c.Warn == nil {
		return
	}
	c.warned[msg] = true
	c.Warn(msg)
}

func (c *Client) info(format string, args ...any) {
	if c.Info != nil {
		c.Info(fmt.Sprintf(format, args...))
	}
}

func (c *Client) hook(point string) {
	if c.Hook != nil {
		c.Hook(point)
	}
}

// Begin takes the root's lock (waiting for another udos-lib if needed) and
// completes any interrupted transaction. Every command calls it first and
// End when done.
func (c *Client) Begin() error {
	if _, err := os.Stat(c.Paths.Root); err != nil {
		return fmt.Errorf("uDOS root %s: %w (pass --root DIR or set UDOS_ROOT)", c.Paths.Root, err)
	}
	timeout := c.LockTimeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	l, err := Lock(c.Paths.Mutex(), timeout, func(holder string) {
		c.info("waiting for another udos-lib (%s) to finish with %s ...", strings.TrimSpace(holder), c.Paths.Root)
	})
	if err != nil {
		return err
	}
	c.lock = l
	msg, err := c.Paths.Recover()
	if err != nil {
		c.End()
		return err
	}
	if msg != "" {
		c.warnOnce("recovery: " + msg)
	}
	return nil
}

// End releases the lock.
func (c *Client) End() {
	if c.lock != nil {
		_ = c.lock.Unlock()
		c.lock = nil
	}
}

// Installed returns the lock file.
func (c *Client) Installed() (*LockFile, error) { return c.Paths.ReadLock() }

// FindInstalled looks an installed library up by any of its names.
func (c *Client) FindInstalled(lock *LockFile, name string) (string, LockEntry, error) {
	ref, err := libid.Parse(name)
	if err != nil {
		return "", LockEntry{}, err
	}
	e, ok := lock.Libraries[ref.ID]
	if !ok {
		return "", LockEntry{}, fmt.Errorf("%s is not installed (see 'udos-lib list')", name)
	}
	return ref.ID, e, nil
}

// StoreMeta is the sidecar of an extracted version.
type StoreMeta struct {
	Entry    LockEntry        `json:"entry"`
	Manifest udospkg.Manifest `json:"manifest"`
}

// HasVersion reports whether a complete extracted copy is in the store.
func (c *Client) HasVersion(id, version string) (*StoreMeta, bool) {
	b, err := os.ReadFile(c.Paths.StoreMeta(id, version))
	if err != nil {
		return nil, false
	}
	if fi, err := os.Stat(c.Paths.StoreDir(id, version)); err != nil || !fi.IsDir() {
		return nil, false
	}
	var m StoreMeta
	if err := jsonUnmarshal(b, &m); err != nil {
		return nil, false
	}
	return &m, true
}

// StoredVersions lists the versions of id present in the store, newest first.
func (c *Client) StoredVersions(id string) []string {
	ents, err := os.ReadDir(filepath.Join(c.Paths.Store(), id))
	if err != nil {
		return nil
	}
	var vs []*semver.Version
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, ok := c.HasVersion(id, e.Name()); !ok {
			continue
		}
		if v, err := semver.NewVersion(e.Name()); err == nil {
			vs = append(vs, v)
		}
	}
	sort.Sort(sort.Reverse(semver.Collection(vs)))
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Original()
	}
	return out
}

// fetchBytes downloads a whole file with progress and retries.
func (c *Client) fetchBytes(ctx context.Context, loc, label string, size int64) ([]byte, error) {
	var buf bytes.Buffer
	var sink ProgressSink
	if c.Progress != nil && IsRemote(loc) {
		sink = c.Progress(label, size)
	}
	w := io.Writer(&buf)
	if sink != nil {
		w = io.MultiWriter(&buf, sink)
	}
	err := c.Fetcher.Download(ctx, loc, w, func() error {
		buf.Reset()
		if sink != nil {
			sink.Reset()
		}
		return nil
	})
	if sink != nil {
		sink.Done()
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// source is where one version comes from and what it must hash to.
type source struct {
	ID, Version       string
	URL, SignatureURL string // absolute
	Size              int64
	SHA256, SHA512    string
	Dependencies      map[string]string
	InstallPath       string
	Namespace         string
	Local             *udospkg.Package // already read from a file
	LocalSig          []byte
}

// ensureStored makes sure id@version is extracted in the store: digest and
// signature are checked before anything is written, then the package is
// verified against its manifest, extracted into a temp folder and renamed
// into place. It returns the store metadata.
func (c *Client) ensureStored(ctx context.Context, s source) (*StoreMeta, error) {
	if m, ok := c.HasVersion(s.ID, s.Version); ok && strings.EqualFold(m.Entry.SHA256, s.SHA256) {
		return m, nil
	}
	file := filepath.Base(s.URL)
	if i := strings.LastIndex(s.URL, "/"); i >= 0 {
		file = s.URL[i+1:]
	}
	// Digest and signature are checked on the raw bytes, before the archive
	// is even parsed: nothing of an unverified download is interpreted.
	var raw, sig []byte
	if s.Local != nil {
		raw, sig = s.Local.Bytes(), s.LocalSig
	} else {
		var err error
		raw, err = c.fetchBytes(ctx, s.URL, file, s.Size)
		if err != nil {
			return nil, fmt.Errorf("downloading %s: %w", file, err)
		}
		c.hook("after-download")
	}
	if s.SHA256 != "" || s.SHA512 != "" {
		if err := checkDigests(raw, s.SHA256, s.SHA512); err != nil {
			return nil, fmt.Errorf("%s: %w (the download is corrupt or the package was replaced; nothing was installed)", file, err)
		}
	} else if s.Local == nil {
		return nil, fmt.Errorf("%s: no digest to check it against", file)
	}
	if s.Local == nil && s.SignatureURL != "" {
		r, err := c.Fetcher.Get(ctx, s.SignatureURL, "", 1<<20)
		var he *HTTPError
		switch {
		case err == nil:
			sig = r.Body
		case errors.As(err, &he) && he.Status == 404, errors.Is(err, os.ErrNotExist):
		default:
			return nil, fmt.Errorf("downloading the signature of %s: %w", file, err)
		}
	}
	if _, warn, err := c.Trust.Check(raw, sig); err != nil {
		return nil, fmt.Errorf("signature check failed for %s: %w", file, err)
	} else if warn {
		c.warnOnce("no keyring given: package signatures are not checked (pass --keyring FILE or set UDOS_KEYRING)")
	}
	pkg := s.Local
	if pkg == nil {
		var err error
		if pkg, err = udospkg.Read(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	m := pkg.Manifest
	if m.ID != s.ID || m.Version != s.Version {
		return nil, fmt.Errorf("%s: its manifest says %s@%s, the catalog promised %s@%s", file, m.ID, m.Version, s.ID, s.Version)
	}
	if s.InstallPath != "" && m.InstallPath != s.InstallPath {
		return nil, fmt.Errorf("%s: its manifest installs to %s, the catalog says %s", file, m.InstallPath, s.InstallPath)
	}
	if err := CheckInstallPath(m.InstallPath); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := pkg.Verify(); err != nil {
		return nil, fmt.Errorf("%s: %w (nothing was installed)", file, err)
	}

	dir := filepath.Join(c.Paths.Store(), s.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("preparing the store: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+s.Version+"-")
	if err != nil {
		return nil, fmt.Errorf("preparing the store: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := pkg.ExtractTo(filepath.Join(tmp, "x")); err != nil {
		return nil, fmt.Errorf("extracting %s: %w (nothing was installed)", file, err)
	}
	c.hook("after-extract")
	meta := &StoreMeta{
		Entry: LockEntry{
			Namespace:    m.Namespace,
			Version:      m.Version,
			InstallPath:  m.InstallPath,
			Source:       s.URL,
			Signature:    s.SignatureURL,
			SHA256:       pkg.SHA256,
			SHA512:       pkg.SHA512,
			Dependencies: normaliseDeps(m.Dependencies),
		},
		Manifest: *m,
	}
	if s.Local != nil && len(sig) > 0 {
		meta.Entry.Signature = s.SignatureURL
	}
	final := c.Paths.StoreDir(s.ID, s.Version)
	// A folder without its sidecar is the leftover of a killed extraction.
	if err := os.RemoveAll(final); err != nil {
		return nil, fmt.Errorf("replacing %s: %w", final, err)
	}
	mb, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", c.Paths.StoreMeta(s.ID, s.Version), err)
	}
	if err := writeFileRename(c.Paths.StoreMeta(s.ID, s.Version), append(mb, '\n')); err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(tmp, "x"), final); err != nil {
		return nil, fmt.Errorf("moving %s into the store: %w", file, err)
	}
	c.hook("after-store")
	return meta, nil
}

// normaliseDeps keys dependencies by id (core keeps its namespace) so the
// lock file is independent of how a manifest spelled them.
func normaliseDeps(deps map[string]string) map[string]string {
	if len(deps) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range deps {
		ref, err := libid.Parse(k)
		switch {
		case err != nil:
			out[k] = v
		case ref.Core:
			out[libid.Core] = v
		default:
			out[ref.ID] = v
		}
	}
	return out
}

// linkTarget is the symlink target for the live path of a version.
func (c *Client) linkTarget(installPath, id, version string) (link, target string, err error) {
	link, err = c.Paths.InstallLink(installPath)
	if err != nil {
		return "", "", err
	}
	target, err = filepath.Rel(filepath.Dir(link), c.Paths.StoreDir(id, version))
	if err != nil {
		return "", "", fmt.Errorf("linking %s: %w", link, err)
	}
	return link, target, nil
}

// commit switches the live tree from old to next in one transaction.
func (c *Client) commit(op string, old, next *LockFile) error {
	j := &Journal{Op: op}
	ids := map[string]bool{}
	for id := range old.Libraries {
		ids[id] = true
	}
	for id := range next.Libraries {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		o, hadOld := old.Libraries[id]
		n, hasNew := next.Libraries[id]
		switch {
		case hasNew:
			link, target, err := c.linkTarget(n.InstallPath, id, n.Version)
			if err != nil {
				return err
			}
			if cur, err := os.Readlink(link); err == nil && cur == target && hadOld && o.Version == n.Version {
				continue
			}
			if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink == 0 {
				return fmt.Errorf("%s exists and is not managed by udos-lib; move it away and retry", link)
			}
			j.Switches = append(j.Switches, Switch{ID: id, Link: link, Target: target})
			if hadOld && o.InstallPath != n.InstallPath {
				ol, err := c.Paths.InstallLink(o.InstallPath)
				if err != nil {
					return err
				}
				j.Switches = append(j.Switches, Switch{ID: id, Link: ol})
			}
		case hadOld:
			link, err := c.Paths.InstallLink(o.InstallPath)
			if err != nil {
				return err
			}
			j.Switches = append(j.Switches, Switch{ID: id, Link: link})
		}
	}
	b, err := marshalLock(next)
	if err != nil {
		return err
	}
	j.LockFile = b
	for i := range j.Switches {
		if cur, err := os.Readlink(j.Switches[i].Link); err == nil {
			j.Switches[i].Old = cur
		}
	}
	if ob, err := os.ReadFile(c.Paths.LockFile()); err == nil {
		j.OldLockFile, j.HadLock = ob, true
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", c.Paths.LockFile(), err)
	}
	return c.Paths.Commit(j, c.hook)
}

// coreVersion reads version.json; a missing file is not fatal for libraries
// that do not depend on the core.
func (c *Client) coreVersion() *semver.Version {
	v, err := CoreVersion(c.Paths.Root)
	if err != nil {
		c.warnOnce(err.Error() + "; constraints on @uDOS/core are not checked")
		return nil
	}
	return v
}

// checkDigests compares raw bytes with expected lower-case hex digests.
func checkDigests(raw []byte, sha256Hex, sha512Hex string) error {
	if sha256Hex != "" {
		sum := sha256.Sum256(raw)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, sha256Hex) {
			return fmt.Errorf("%w: sha256 is %s, expected %s", udospkg.ErrDigestMismatch, got, sha256Hex)
		}
	}
	if sha512Hex != "" {
		sum := sha512.Sum512(raw)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, sha512Hex) {
			return fmt.Errorf("%w: sha512 is %s, expected %s", udospkg.ErrDigestMismatch, got, sha512Hex)
		}
	}
	return nil
}
