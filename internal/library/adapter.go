package library

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/resolve"
)

// resolveInput is what an install asks the resolver.
type resolveInput struct {
	Catalog *Catalog
	Core    *semver.Version
	Roots   []resolve.Requirement
	// Prefer keeps these versions when they still satisfy every constraint,
	// so an install does not upgrade unrelated libraries.
	Prefer map[string]*semver.Version
	// Extra are versions not (or no longer) in the catalog: installed ones
	// and a package given as a file, with their dependencies.
	Extra map[string]extraVersion
	// Prerelease lets every range admit the pre-releases inside it (--pre).
	Prerelease bool
}

type extraVersion struct {
	Version      *semver.Version
	Dependencies map[string]string
}

// resolveSource is the one catalog→resolver adapter: the catalog's own
// candidates (catalog.Source: not yanked, names normalised) with the Extra
// version of a library added, newest first.
type resolveSource struct{ in *resolveInput }

func (s resolveSource) Versions(id string) ([]resolve.Candidate, error) {
	var out []resolve.Candidate
	e, hasExtra := s.in.Extra[id]
	if hasExtra {
		c, err := catalog.Candidate(id, e.Version, e.Dependencies)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	var fromCatalog []resolve.Candidate
	err := resolve.ErrUnknown
	if s.in.Catalog != nil {
		fromCatalog, err = s.in.Catalog.Source().Versions(id)
	}
	switch {
	case errors.Is(err, resolve.ErrUnknown) && !hasExtra:
		hint := ""
		if s.in.Catalog != nil {
			hint = suggest(id, s.in.Catalog.ids())
		}
		return nil, fmt.Errorf("library %s is not in the catalog%s (try 'udos-lib search'): %w", id, hint, resolve.ErrUnknown)
	case err != nil && !errors.Is(err, resolve.ErrUnknown):
		return nil, err
	}
	for _, c := range fromCatalog {
		if hasExtra && c.Version.Equal(e.Version) {
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version.GreaterThan(out[j].Version) })
	return out, nil
}

func resolveAll(ctx context.Context, in resolveInput) (*resolve.Solution, error) {
	return resolve.Resolve(ctx, resolveSource{&in}, in.Roots, resolve.Options{CoreVersion: in.Core, Locked: in.Prefer, AllowPrerelease: in.Prerelease})
}
