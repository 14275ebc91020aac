package library

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/lockfile"
	"github.com/fredbook/udos-dist/internal/regref"
	"github.com/fredbook/udos-dist/internal/store"
)

// unavailableError: a package or its signature could not be downloaded from
// one place (not found, unreachable); another place may still have it.
// Verification failures are never this: a package that fails its digest or
// signature is refused wherever it came from.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// catalogOnce loads the registry's catalog the first time it is needed.
type catalogOnce struct {
	cat  *Catalog
	err  error
	done bool
}

func (o *catalogOnce) get(ctx context.Context, c *Client) (*Catalog, error) {
	if o.cat != nil || o.done {
		return o.cat, o.err
	}
	o.done = true
	if c.Registry == "" {
		o.err = errors.New("no registry is configured (pass --registry URL|DIR or set UDOS_REGISTRY)")
		return nil, o.err
	}
	sr, err := c.LoadCatalog(ctx, true)
	if err != nil {
		o.err = err
		return nil, err
	}
	o.cat = sr.Catalog
	return o.cat, nil
}

// storeLocked puts the package a lock entry pins into the store. The
// entry's digests decide what is accepted; where it is fetched from is the
// registry given now (--registry, UDOS_REGISTRY, config): a relative source
// resolves against it, and when that fails (or the lock is a version 1 one,
// whose sources name the registry as it was) the registry's catalog is
// asked for the same version with the same sha256.
func (c *Client) storeLocked(ctx context.Context, cats *catalogOnce, id string, v *semver.Version, e lockfile.Entry, preferCatalog bool) (*store.Meta, error) {
	if c.Registry == "" && !regref.IsRemote(e.Source) {
		what := "is relative to the registry"
		if filepath.IsAbs(e.Source) {
			what = "is a local path, which is never opened"
		}
		return nil, fmt.Errorf("%s@%s is not in the store, and the lock file's source %s %s: pass --registry URL|DIR or set UDOS_REGISTRY (the lock file's digests decide what is accepted)", id, v, e.Source, what)
	}
	fromLock := func() (source, error) {
		loc, err := c.resolveLocked(e.Source)
		if err != nil {
			return source{}, fmt.Errorf("source %s: %w", e.Source, err)
		}
		s := source{ID: id, Version: v, URL: loc, SHA256: e.SHA256, SHA512: e.SHA512, InstallPath: e.InstallPath,
			Ref: e.Source, SigRef: e.Signature}
		if e.Signature != "" {
			if s.SignatureURL, err = c.resolveLocked(e.Signature); err != nil {
				return source{}, fmt.Errorf("signature %s: %w", e.Signature, err)
			}
		}
		return s, nil
	}
	fromCatalog := func() (source, error) {
		cat, err := cats.get(ctx, c)
		if err != nil {
			return source{}, err
		}
		lib, ok := cat.Find(id)
		if !ok {
			return source{}, fmt.Errorf("the registry %s has no %s", cat.Base, id)
		}
		cv, ok := lib.FindVersion(v.Original())
		if !ok {
			return source{}, fmt.Errorf("the registry %s has no %s %s", cat.Base, id, v)
		}
		if !strings.EqualFold(cv.SHA256, e.SHA256) {
			return source{}, fmt.Errorf("the registry's %s %s is another package (sha256 %s, the lock file pins %s)", id, v, cv.SHA256, e.SHA256)
		}
		u, su, err := catalogRefs(cat, cv)
		if err != nil {
			return source{}, err
		}
		return source{ID: id, Version: v, URL: u, SignatureURL: su, Size: cv.Size, SHA256: e.SHA256, SHA512: e.SHA512,
			InstallPath: e.InstallPath, Ref: cat.Base.Relative(u), SigRef: cat.Base.Relative(su)}, nil
	}
	ways := []func() (source, error){fromLock, fromCatalog}
	if preferCatalog {
		ways[0], ways[1] = fromCatalog, fromLock
	}
	var tried []string
	for _, way := range ways {
		s, err := way()
		if err == nil {
			var m *store.Meta
			if m, err = c.ensureStored(ctx, s); err == nil {
				return m, nil
			}
			var ue *unavailableError
			if !errors.As(err, &ue) || ctx.Err() != nil {
				return nil, fmt.Errorf("%s@%s: %w", id, v, err)
			}
		}
		tried = append(tried, err.Error())
	}
	return nil, fmt.Errorf("%s@%s is not in the store and could not be fetched: %s", id, v, strings.Join(tried, "; "))
}

// resolveLocked turns a lock file's source into what to fetch: relative
// ones resolve against the registry given now; http(s) URLs are taken as
// they are. An absolute local path (a version 1 lock file made with a
// folder registry) is not opened: lock files travel between machines, and
// one must not make udos-lib read (and report the digest of) any local
// file; the registry is asked for that version and digest instead.
func (c *Client) resolveLocked(ref string) (string, error) {
	switch {
	case regref.IsRemote(ref):
		if err := regref.Check(ref); err != nil {
			return "", err
		}
		return ref, nil
	case filepath.IsAbs(ref):
		return "", fmt.Errorf("%w: %s is a local path (recorded by an older udos-lib); only the registry is asked for it", regref.ErrRefused, ref)
	}
	base, err := c.registryBase()
	if err != nil {
		return "", fmt.Errorf("it is relative to the registry, and %w", err)
	}
	return base.Resolve(ref)
}

// recordedRefs is the source and signature a lock file records for e: as
// they are when they already are registry-relative or http(s) URLs;
// relative to the registry when they lie inside it; the catalog's
// reference for the same version and digest when cat has it; else the file
// name (installing from the lock then finds the package in the registry by
// version and digest). fromV1 asks the catalog first.
func (c *Client) recordedRefs(cat *Catalog, id string, e lockfile.Entry, fromV1 bool) (src, sig string) {
	ok := func(r string) bool { return r == "" || regref.Check(r) == nil }
	if cat != nil && (fromV1 || !ok(e.Source) || !ok(e.Signature)) {
		if lib, found := cat.Find(id); found {
			if cv, found := lib.FindVersion(e.Version); found && strings.EqualFold(cv.SHA256, e.SHA256) {
				if u, su, err := catalogRefs(cat, cv); err == nil {
					sig := ""
					if e.Signature != "" {
						sig = cat.Base.Relative(su)
					}
					return cat.Base.Relative(u), sig
				}
			}
		}
	}
	fix := func(r string) string {
		if ok(r) {
			return r
		}
		if base, err := c.registryBase(); err == nil {
			if rel := base.Relative(r); ok(rel) {
				return rel
			}
		}
		return path.Base(filepath.ToSlash(r))
	}
	return fix(e.Source), fix(e.Signature)
}
