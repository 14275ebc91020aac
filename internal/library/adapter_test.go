package library

import (
	"errors"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/resolve"
)

// TestAdapterOverlaysExtra: the catalog's candidates (yanked left out) with
// an installed or file-given version added, newest first, typed as semver
// values; an unknown library is resolve.ErrUnknown with a suggestion.
func TestAdapterOverlaysExtra(t *testing.T) {
	t.Parallel()
	cat := &Catalog{Catalog: &catalog.Catalog{Libraries: []catalog.Library{{ID: "lib-a", Versions: []catalog.Version{
		{Version: "2.0.0", Dependencies: map[string]string{"@uDOS/b": "^1.0.0"}},
		{Version: "1.5.0", Yanked: true},
		{Version: "1.0.0"},
	}}}}}
	in := &resolveInput{Catalog: cat, Extra: map[string]extraVersion{
		"lib-a": {Version: semver.MustParse("1.2.0"), Dependencies: map[string]string{"core": ">=1.4"}},
		"lib-x": {Version: semver.MustParse("0.1.0")},
	}}
	src := resolveSource{in}
	got, err := src.Versions("lib-a")
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, c := range got {
		vs = append(vs, c.Version.String())
	}
	if strings.Join(vs, " ") != "2.0.0 1.2.0 1.0.0" {
		t.Fatalf("candidates %v", vs)
	}
	if d := got[0].Deps; len(d) != 1 || d[0].ID != "lib-b" || d[0].Constraint != "^1.0.0" {
		t.Errorf("deps of 2.0.0: %+v (names are normalised to ids)", d)
	}
	if d := got[1].Deps; len(d) != 1 || d[0].Constraint != ">=1.4" {
		t.Errorf("deps of the extra 1.2.0: %+v", d)
	}
	if x, err := src.Versions("lib-x"); err != nil || len(x) != 1 {
		t.Errorf("a library known only as extra: %v %v", x, err)
	}
	_, err = src.Versions("lib-aa")
	if !errors.Is(err, resolve.ErrUnknown) || !strings.Contains(err.Error(), "did you mean a?") {
		t.Errorf("unknown library: %v", err)
	}
}
