package library

import (
	"context"
	"fmt"
	"sort"

	"github.com/Masterminds/semver/v3"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/resolve"
)

// resolveInput is what an install asks the resolver.
type resolveInput struct {
	Catalog *Catalog
	Core    *semver.Version
	Roots   []resolve.Requirement
	// Prefer keeps these versions when they still satisfy every constraint,
	// so an install does not upgrade unrelated libraries.
	Prefer map[string]string
	// Extra are versions not (or no longer) in the catalog: installed ones
	// and a package given as a file, with their dependencies.
	Extra map[string]extraVersion
}

type extraVersion struct {
	Version      string
	Dependencies map[string]string
}

// source adapts the catalog plus Extra to resolve.Source.
type resolveSource struct{ in *resolveInput }

func (s resolveSource) Versions(id string) ([]resolve.Candidate, error) {
	vs, deps, err := s.in.candidates(id)
	if err != nil {
		return nil, err
	}
	out := make([]resolve.Candidate, 0, len(vs))
	for _, v := range vs {
		sv, err := semver.NewVersion(v)
		if err != nil {
			continue
		}
		c := resolve.Candidate{Version: sv}
		names := make([]string, 0, len(deps[v]))
		for n := range deps[v] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			ref, err := libid.Parse(n)
			if err != nil {
				return nil, fmt.Errorf("%s@%s: dependency %w", id, v, err)
			}
			c.Deps = append(c.Deps, resolve.Requirement{ID: ref.ID, Constraint: deps[v][n]})
		}
		out = append(out, c)
	}
	return out, nil
}

// Resolution maps library ids to chosen versions, with an install order.
type Resolution struct {
	Versions map[string]string
	Order    []string
}

func resolveAll(ctx context.Context, in resolveInput) (*Resolution, error) {
	locked := map[string]*semver.Version{}
	for id, v := range in.Prefer {
		if sv, err := semver.NewVersion(v); err == nil {
			locked[id] = sv
		}
	}
	sol, err := resolve.Resolve(ctx, resolveSource{&in}, in.Roots, resolve.Options{CoreVersion: in.Core, Locked: locked})
	if err != nil {
		return nil, err
	}
	r := &Resolution{Versions: map[string]string{}, Order: sol.Order}
	for id, v := range sol.Versions {
		r.Versions[id] = v.Original()
	}
	return r, nil
}

// candidates lists versions newest first (yanked ones left out, versions
// only known from Extra added) and the dependencies of each.
func (in *resolveInput) candidates(id string) ([]string, map[string]map[string]string, error) {
	deps := map[string]map[string]string{}
	var vs []*semver.Version
	if e, ok := in.Extra[id]; ok {
		if sv, err := semver.NewVersion(e.Version); err == nil {
			vs = append(vs, sv)
			deps[sv.Original()] = e.Dependencies
		}
	}
	var lib *CatalogLib
	if in.Catalog != nil {
		lib = in.Catalog.find(id)
	}
	if lib == nil && len(vs) == 0 {
		return nil, nil, fmt.Errorf("library %s is not in the catalog (try 'udos-lib search'): %w", id, resolve.ErrUnknown)
	}
	if lib != nil {
		for _, v := range lib.Versions {
			if v.Yanked {
				continue
			}
			if _, dup := deps[v.Version]; dup {
				continue
			}
			sv, err := semver.NewVersion(v.Version)
			if err != nil {
				continue
			}
			vs = append(vs, sv)
			deps[sv.Original()] = v.Dependencies
		}
	}
	sort.Sort(sort.Reverse(semver.Collection(vs)))
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Original())
	}
	return out, deps, nil
}

func (c *Catalog) find(id string) *CatalogLib {
	for i := range c.Libraries {
		if c.Libraries[i].ID == id {
			return &c.Libraries[i]
		}
	}
	return nil
}

// Find looks a library up by id, namespace or short name.
func (c *Catalog) Find(name string) (*CatalogLib, error) {
	ref, err := libid.Parse(name)
	if err != nil {
		return nil, err
	}
	if l := c.find(ref.ID); l != nil {
		return l, nil
	}
	return nil, fmt.Errorf("library %q is not in the catalog (try 'udos-lib search %s')", name, ref.Short)
}
