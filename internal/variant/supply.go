package variant

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/docs"
	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/site"
)

// The contents the toolkit supplies for a declared path the checkout lacks
// (Path.Supply): the files wizard-full needs that the real uDOS repository
// does not have.
const (
	// SupplySite is the Jekyll template of the library site (this
	// project's site/), for a directory.
	SupplySite = "jekyll-site-template"
	// SupplyCatalog is distribution/local-library-catalog.json: the
	// registry's signed catalog when one is given (Options.Catalog), else
	// an empty valid catalog.
	SupplyCatalog = "library-catalog"
	// SupplyGuide is this project's guide of the path's base name
	// (DOCKER-OPERATIONS.md, LIBRARY-MANAGEMENT.md).
	SupplyGuide = "guide"
)

func checkSupply(p Path) error {
	switch p.Supply {
	case SupplySite:
		if !p.IsDir() {
			return fmt.Errorf("path %q: supply %q is a directory (end the path with /)", p.Path, p.Supply)
		}
	case SupplyCatalog:
		if p.IsDir() {
			return fmt.Errorf("path %q: supply %q is a file", p.Path, p.Supply)
		}
	case SupplyGuide:
		if _, err := fs.Stat(docs.Guides, path.Base(p.Path)); err != nil || p.IsDir() {
			return fmt.Errorf("path %q: udos-dist has no guide named %s", p.Path, path.Base(p.Path))
		}
	default:
		return fmt.Errorf("path %q: unknown supply %q (known: %s, %s, %s)", p.Path, p.Supply, SupplyCatalog, SupplyGuide, SupplySite)
	}
	return nil
}

// supply stages the toolkit's contents for p.
func (s *stager) supply(p Path) error {
	dst := strings.TrimSuffix(p.Path, "/")
	put := func(name string, data []byte) error {
		return s.put(name, &staged{data: data, mode: 0o644, how: "supplied by udos-dist"})
	}
	switch p.Supply {
	case SupplySite:
		err := fs.WalkDir(site.Template, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(site.Template, name)
			if err != nil {
				return err
			}
			return put(dst+"/"+name, data)
		})
		if err != nil {
			return fmt.Errorf("variant %s: supplying %s: %w", s.v.Name, p.Path, err)
		}
		s.warn(p.Path, "is not in the checkout; supplied from udos-dist's site template")
	case SupplyCatalog:
		data, how, err := libraryCatalog(s.opts)
		if err != nil {
			return fmt.Errorf("variant %s: supplying %s: %w", s.v.Name, p.Path, err)
		}
		if err := put(dst, data); err != nil {
			return err
		}
		s.warn(p.Path, "is not in the checkout; supplied: %s", how)
	case SupplyGuide:
		data, err := fs.ReadFile(docs.Guides, path.Base(p.Path))
		if err != nil {
			return fmt.Errorf("variant %s: supplying %s: %w", s.v.Name, p.Path, err)
		}
		if err := put(dst, data); err != nil {
			return err
		}
		s.warn(p.Path, "is not in the checkout; supplied from udos-dist's docs/%s", path.Base(p.Path))
	}
	return nil
}

// libraryCatalog returns the catalog to ship: the given one, checked
// against the catalog format, or an empty one stamped with opts.Time.
func libraryCatalog(opts Options) ([]byte, string, error) {
	if len(opts.Catalog) > 0 {
		if _, err := catalog.Parse(opts.Catalog); err != nil {
			return nil, "", fmt.Errorf("the given library catalog: %w", err)
		}
		return opts.Catalog, "the registry's catalog given to the build", nil
	}
	t := opts.Time.UTC()
	if t.IsZero() {
		t = time.Unix(0, 0).UTC()
	}
	c := &catalog.Catalog{CatalogVersion: catalog.FormatVersion, Serial: 1, LastUpdated: t, Expires: t.AddDate(10, 0, 0)}
	data, err := c.Marshal()
	if err != nil {
		return nil, "", err
	}
	if _, err := catalog.Parse(data); err != nil {
		return nil, "", err
	}
	return data, "an empty library catalog (give the registry's catalog to ship its libraries)", nil
}
