// Package library is the operations facade of the udos-lib client: search,
// install (from the registry, a file or the lock file), update,
// check-updates, uninstall, rollback and library configs on one uDOS root.
// It composes the store (internal/store), the fetcher (internal/fetch), the
// catalog's trust rules (internal/catalog) and the resolver
// (internal/resolve). It never prints and never reads the environment: the
// command layer passes writers, clocks, HTTP clients and settings in.
package library

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/fetch"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/lockfile"
	"github.com/fredbook/udos-dist/internal/regref"
	"github.com/fredbook/udos-dist/internal/store"
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
	Paths    store.Paths
	Registry string // URL or folder; "" when none is configured
	Trust    Trust
	Fetcher  *fetch.Fetcher
	Now      func() time.Time
	// Warn tells the user something without failing (stderr).
	Warn func(msg string)
	// Info reports progress in words (stderr).
	Info func(msg string)
	// Progress starts a progress bar for a download; nil means none.
	Progress func(label string, total int64) ProgressSink
	// Hook is called at named points (tests pause and kill there).
	Hook store.Hook
	// LockTimeout bounds the wait for another udos-lib process.
	LockTimeout time.Duration
	// Prerelease lets every constraint admit the pre-releases inside its
	// range when resolving (--pre; npm's includePrerelease).
	Prerelease bool

	warned map[string]bool
	lock   *store.FileLock
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

// Begin takes the root's lock (waiting for another udos-lib if needed, until
// ctx is done) and completes any interrupted transaction. Every command
// calls it first and End when done.
func (c *Client) Begin(ctx context.Context) error {
	if _, err := os.Stat(c.Paths.Root); err != nil {
		return fmt.Errorf("uDOS root %s: %w (pass --root DIR or set UDOS_ROOT)", c.Paths.Root, err)
	}
	timeout := c.LockTimeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	l, err := store.Lock(ctx, c.Paths.Mutex(), timeout, func(holder string) {
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
func (c *Client) Installed() (*lockfile.Lock, error) { return c.Paths.ReadLock() }

// FindInstalled looks an installed library up by any of its names.
func (c *Client) FindInstalled(lock *lockfile.Lock, name string) (string, lockfile.Entry, error) {
	ref, err := libid.Parse(name)
	if err != nil {
		return "", lockfile.Entry{}, err
	}
	e, ok := lock.Libraries[ref.ID]
	if !ok {
		return "", lockfile.Entry{}, fmt.Errorf("%s is not installed (see 'udos-lib list')", name)
	}
	return ref.ID, e, nil
}

// fetchBytes downloads a whole file with progress and retries.
func (c *Client) fetchBytes(ctx context.Context, loc, label string, size int64) ([]byte, error) {
	var buf bytes.Buffer
	var sink ProgressSink
	if c.Progress != nil && regref.IsRemote(loc) {
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
	ID                string
	Version           *semver.Version
	URL, SignatureURL string // what to fetch: resolved and allowed (internal/regref)
	// Ref and SigRef are what the lock file records: relative to the
	// registry when the package is inside it.
	Ref, SigRef    string
	Size           int64
	SHA256, SHA512 string
	Dependencies   map[string]string
	InstallPath    string
	Namespace      string
	Local          *udospkg.Package // already read from a file
	LocalSig       []byte
}

// ensureStored makes sure id@version is extracted in the store: digest and
// signature are checked before anything is written, then the package is
// verified against its manifest, extracted into a temp folder and renamed
// into place. It returns the store metadata.
func (c *Client) ensureStored(ctx context.Context, s source) (*store.Meta, error) {
	version := s.Version.Original()
	if m, ok := c.Paths.HasVersion(s.ID, version); ok && strings.EqualFold(m.Entry.SHA256, s.SHA256) {
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
			return nil, &unavailableError{fmt.Errorf("downloading %s: %w", file, err)}
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
		var he *fetch.HTTPError
		switch {
		case err == nil:
			sig = r.Body
		case errors.As(err, &he) && he.Status == 404, errors.Is(err, os.ErrNotExist):
		default:
			return nil, &unavailableError{fmt.Errorf("downloading the signature of %s: %w", file, err)}
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
	if m.ID != s.ID || m.Version != version {
		return nil, fmt.Errorf("%s: its manifest says %s@%s, the catalog promised %s@%s", file, m.ID, m.Version, s.ID, version)
	}
	if s.InstallPath != "" && m.InstallPath != s.InstallPath {
		return nil, fmt.Errorf("%s: its manifest installs to %s, the catalog says %s", file, m.InstallPath, s.InstallPath)
	}
	if err := store.CheckInstallPath(m.InstallPath); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := pkg.Verify(); err != nil {
		return nil, fmt.Errorf("%s: %w (nothing was installed)", file, err)
	}

	tmp, err := c.Paths.Staging(s.ID, version)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if _, err := pkg.ExtractTo(filepath.Join(tmp, "x")); err != nil {
		return nil, fmt.Errorf("extracting %s: %w (nothing was installed)", file, err)
	}
	c.hook("after-extract")
	meta := &store.Meta{
		Entry: lockfile.Entry{
			Namespace:    m.Namespace,
			Version:      m.Version,
			InstallPath:  m.InstallPath,
			Source:       s.Ref,
			Signature:    s.SigRef,
			SHA256:       pkg.SHA256,
			SHA512:       pkg.SHA512,
			Dependencies: normaliseDeps(m.Dependencies),
		},
		Manifest: *m,
	}
	if len(sig) == 0 {
		meta.Entry.Signature = ""
	}
	if err := c.Paths.Add(s.ID, version, filepath.Join(tmp, "x"), meta); err != nil {
		return nil, err
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

// commit switches the live tree from old to next in one transaction.
func (c *Client) commit(op string, old, next *lockfile.Lock) error {
	return c.Paths.Switch(op, old, next, c.hook)
}

// coreVersion reads version.json; a missing file is not fatal for libraries
// that do not depend on the core.
func (c *Client) coreVersion() *semver.Version {
	v, err := store.CoreVersion(c.Paths.Root)
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
