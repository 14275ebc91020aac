package catalog

import (
	"errors"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/strictjson"
)

// A catalog that encoding/json reads one way (the last of two equal keys)
// and another reader the other way is refused, at any depth, naming the key.
func TestParseDuplicateKeys(t *testing.T) {
	t.Parallel()
	good := sampleJSON(t)
	r := func(old, new string) []byte { return edit(t, good, old, new) }
	refuses(t, good, strictjson.ErrDuplicateKey, []refusal{
		{"top level", r(`"serial": 7`, `"serial": 7, "serial": 99`), "duplicate key at serial"},
		{"in another case", r(`"serial": 7`, `"serial": 7, "Serial": 99`), `duplicate key at Serial (the same key as "serial"`},
		{"in a version", r(`"sha256": "6666666666666666666666666666666666666666666666666666666666666666",
          "sha512"`, `"sha256": "6666666666666666666666666666666666666666666666666666666666666666",
          "sha256": "0000000000000000000000000000000000000000000000000000000000000000",
          "sha512"`), "duplicate key at libraries[0].versions[0].sha256"},
		{"in dependencies", r(`"@uDOS/core": ">=1.4.0",`, `"@uDOS/core": ">=1.4.0", "@uDOS/core": "*",`), `duplicate key at libraries[0].dependencies["@uDOS/core"]`},
	})
}

// An error quotes operands shortened: a 10 KB version string or
// constraint does not come back in full.
func TestParseLongOperands(t *testing.T) {
	t.Parallel()
	good := sampleJSON(t)
	long := "1.2.3-" + strings.Repeat("x", 10<<10)
	tests := []struct{ name, old, new, want string }{
		{"version", `"version": "1.2.3",
          "yanked"`, `"version": "` + long + `",
          "yanked"`, `version "1.2.3-xxxxxxxx`},
		{"constraint", `"@uDOS/pathfinding": "^1.0.0"
          }`, `"@uDOS/pathfinding": "^` + long + `"
          }`, `invalid constraint "^1.2.3-xxxx`},
		{"sha256", `"sha256": "6666666666666666666666666666666666666666666666666666666666666666",
          "sha512"`, `"sha256": "` + long + `",
          "sha512"`, `sha256 "1.2.3-xxxx`},
		{"url", `"url": "packages/lib-grid-extensions-v1.2.3.udos-package",
          "version"`, `"url": "%zz` + long + `",
          "version"`, `url "%zz1.2.3-xxx`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(edit(t, good, tt.old, tt.new))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "…") {
				t.Fatalf("err = %.600v\nwant ErrInvalid containing %q and shortened", err, tt.want)
			}
			if len(err.Error()) > 2000 {
				t.Errorf("a %d-byte error for a 10 KB operand", len(err.Error()))
			}
		})
	}
}
