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
	"hash"
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
	// ReadOnly is set by Open: nothing is written into the root (no lock,
	// no recovery, no catalog cache).
	ReadOnly bool
	// CoreVersion, when set, is the @uDOS/core resolution assumes instead
	// of version.json's: `udos-lib core upgrade` plans the libraries for
	// the version it is about to switch to.
	CoreVersion *semver.Version

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
	if err := store.CheckRoot(c.Paths.Root); err != nil {
		return err
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

// Open prepares a read-only command (search, info, list, check-updates): it
// takes no lock, so it never waits behind another udos-lib, and writes
// nothing into the root. With requireRoot the root must be a uDOS
// installation. An unfinished transaction is reported, not completed (the
// next command that changes the root completes it).
func (c *Client) Open(requireRoot bool) error {
	c.ReadOnly = true
	if requireRoot {
		if err := store.CheckRoot(c.Paths.Root); err != nil {
			return err
		}
	}
	if _, err := os.Stat(c.Paths.Journal()); err == nil {
		if store.Busy(c.Paths.Mutex()) {
			c.warnOnce("another udos-lib is changing " + c.Paths.Root + " right now: what is shown may be about to change")
		} else {
			c.warnOnce("an interrupted transaction is pending in " + c.Paths.Root + ": the next install, update, uninstall or rollback completes it")
		}
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

// FindInstalled looks an installed library up by any of its names.
func (c *Client) FindInstalled(lock *lockfile.Lock, name string) (string, lockfile.Entry, error) {
	ref, err := libid.Parse(name)
	if err != nil {
		return "", lockfile.Entry{}, err
	}
	e, ok := lock.Libraries[ref.ID]
	if !ok {
		return "", lockfile.Entry{}, fmt.Errorf("%s is not installed%s (see 'udos-lib list')", name, suggest(name, lock.IDs()))
	}
	return ref.ID, e, nil
}

// download streams the package at loc into path, at most max bytes,
// computing its digests on the way, with progress and retries.
func (c *Client) download(ctx context.Context, loc, path, label string, size, max int64, d *digester) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", label, err)
	}
	defer f.Close()
	var sink ProgressSink
	if c.Progress != nil && regref.IsRemote(loc) {
		sink = c.Progress(label, size)
	}
	w := io.MultiWriter(f, d)
	if sink != nil {
		w = io.MultiWriter(f, d, sink)
	}
	err = c.Fetcher.Download(ctx, loc, w, max, func() error {
		d.Reset()
		if sink != nil {
			sink.Reset()
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return f.Truncate(0)
	})
	if sink != nil {
		sink.Done()
	}
	if err != nil {
		return err
	}
	return f.Close()
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
	tmp, err := c.Paths.Staging(s.ID, version)
	if err != nil {
		return nil, err
	}
	defer func() {
		os.RemoveAll(tmp)
		// The library's folder goes too when nothing else is in it: a
		// refused download leaves no trace.
		_ = os.Remove(filepath.Dir(tmp))
	}()
	// Digest and signature are checked on the raw bytes, before the archive
	// is even parsed: nothing of an unverified download is interpreted.
	var raw, sig []byte
	d := newDigester()
	if s.Local != nil {
		raw, sig = s.Local.Bytes(), s.LocalSig
		d.Write(raw)
	} else {
		// The download streams to disk and stops at the size the catalog
		// declares (a lock file declares none: the package format's own
		// cap), hashing as it goes.
		max := int64(udospkg.MaxPackageSize)
		if s.Size > 0 && s.Size < max {
			max = s.Size
		}
		dl := filepath.Join(tmp, "package")
		if err := c.download(ctx, s.URL, dl, file, s.Size, max, d); err != nil {
			if errors.Is(err, fetch.ErrTooLarge) {
				return nil, fmt.Errorf("downloading %s: %w (the catalog declares %d bytes; nothing was installed)", file, err, s.Size)
			}
			return nil, &unavailableError{fmt.Errorf("downloading %s: %w", file, err)}
		}
		c.hook("after-download")
		if raw, err = fetch.ReadFile(dl, max); err != nil {
			return nil, err
		}
	}
	if s.SHA256 != "" || s.SHA512 != "" {
		if err := d.check(s.SHA256, s.SHA512); err != nil {
			return nil, fmt.Errorf("%s: %w (the download is corrupt or the package was replaced; nothing was installed)", file, err)
		}
	} else if s.Local == nil {
		return nil, fmt.Errorf("%s: no digest to check it against", file)
	}
	if s.Local == nil && s.SignatureURL != "" {
		r, err := c.Fetcher.Get(ctx, s.SignatureURL, fetch.Validators{}, maxSignatureSize)
		var he *fetch.HTTPError
		switch {
		case err == nil:
			sig = r.Body
		case errors.As(err, &he) && he.Status == 404, errors.Is(err, os.ErrNotExist):
		case errors.Is(err, fetch.ErrTooLarge):
			return nil, fmt.Errorf("downloading the signature of %s: %w (nothing was installed)", file, err)
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

// coreVersion reads version.json; a missing file is not fatal for libraries
// that do not depend on the core.
func (c *Client) coreVersion() *semver.Version {
	if c.CoreVersion != nil {
		return c.CoreVersion
	}
	v, err := store.CoreVersion(c.Paths.Root)
	if err != nil {
		c.warnOnce(err.Error() + "; constraints on @uDOS/core are not checked")
		return nil
	}
	return v
}

// digester computes a package's sha256 and sha512 as it streams by.
type digester struct{ s256, s512 hash.Hash }

func newDigester() *digester { return &digester{sha256.New(), sha512.New()} }

func (d *digester) Write(p []byte) (int, error) {
	d.s256.Write(p)
	d.s512.Write(p)
	return len(p), nil
}

func (d *digester) Reset() { d.s256.Reset(); d.s512.Reset() }

// check compares the digests with the expected lower-case hex ones.
func (d *digester) check(sha256Hex, sha512Hex string) error {
	if sha256Hex != "" {
		if got := hex.EncodeToString(d.s256.Sum(nil)); !strings.EqualFold(got, sha256Hex) {
			return fmt.Errorf("%w: sha256 is %s, expected %s", udospkg.ErrDigestMismatch, got, sha256Hex)
		}
	}
	if sha512Hex != "" {
		if got := hex.EncodeToString(d.s512.Sum(nil)); !strings.EqualFold(got, sha512Hex) {
			return fmt.Errorf("%w: sha512 is %s, expected %s", udospkg.ErrDigestMismatch, got, sha512Hex)
		}
	}
	return nil
}
