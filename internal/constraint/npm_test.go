package constraint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// node-semver's own range fixtures (range-include.js, range-exclude.js and
// range-parse.js of node-semver 7.8.5, as JSON) live in
// ../shared/semver-peer/ beside the repository, never in it: see that
// folder's README.md for their source and licence.
const npmFixtures = "shared/semver-peer/node-semver-ranges.json"

// npmKnownDifferences lists every fixture where uDOS answers otherwise than
// npm, each a deliberate choice documented in docs/CONSTRAINTS.md ("Where
// uDOS differs from npm"). The test fails when one of them starts to agree
// or when a fixture not listed here disagrees.
var npmKnownDifferences = map[string]string{
	// The empty constraint and an empty alternative are refused: npm reads
	// them as "*", which turns a slip (an unexpanded variable, a dangling
	// "||") into "any version".
	"range-include.js[12]": "empty constraint refused",
	"range-parse.js[8]":    "empty constraint refused",
	"range-include.js[41]": "empty alternative refused",
	"range-parse.js[28]":   "empty alternative refused",
	// No loose mode: these fixtures ask for npm's {loose: true}.
	"range-include.js[4]":  "no loose mode (1.2.3pre)",
	"range-include.js[5]":  "no loose mode (2.4.3pre)",
	"range-include.js[6]":  "no loose mode (1.2.3pre)",
	"range-include.js[67]": "no loose mode (1.0.3alpha)",
	"range-parse.js[74]":   "no loose mode (leading zeros)",
	"range-parse.js[76]":   "no loose mode (1.2.3beta)",
	"range-parse.js[89]":   "no loose mode (leading zero)",
	// A constraint is at most MaxLen bytes (this one is 518).
	"range-parse.js[132]": "longer than 512 bytes",
}

type npmCase struct {
	ID                string  `json:"id"`
	Kind              string  `json:"kind"` // include, exclude, parse, probe
	Range             string  `json:"range"`
	Version           *string `json:"version"`
	Loose             bool    `json:"loose"`
	IncludePrerelease bool    `json:"includePrerelease"`
	NPM               bool    `json:"npm"`
	Canonical         *string `json:"canonical"`
}

// loadNPMFixtures reads the fixture file from ../shared/ of the repository
// root (the folder holding go.mod), or of a folder above it: a git worktree
// kept at …/wt/NAME shares the …/shared of the main checkout.
func loadNPMFixtures(t *testing.T) (cases, probes []npmCase) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	var data []byte
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if data, err = os.ReadFile(filepath.Join(d, npmFixtures)); err == nil {
			break
		}
		if filepath.Dir(d) == d {
			testenv.Missing(t, "node-semver's fixtures are not at ../"+npmFixtures+" beside the repository root "+dir)
		}
	}
	var f struct {
		Source struct {
			Version string `json:"version"`
		} `json:"source"`
		Cases  []npmCase `json:"cases"`
		Probes []npmCase `json:"probes"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("reading %s: %v", npmFixtures, err)
	}
	if f.Source.Version != "7.8.5" || len(f.Cases) == 0 {
		t.Fatalf("%s: node-semver %q with %d cases, want the 7.8.5 fixtures", npmFixtures, f.Source.Version, len(f.Cases))
	}
	return f.Cases, f.Probes
}

// npmVersion reads a version as node-semver does in strict mode (an
// optional "v", surrounding blanks ignored); nil when it is not one, which
// satisfies no range.
func npmVersion(s *string) *semver.Version {
	if s == nil {
		return nil
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(strings.TrimSpace(*s), "v"))
	if err != nil {
		return nil
	}
	return v
}

// answer is what uDOS says to a fixture's question, and why it differs
// from npm's when it does ("" when it agrees).
func answer(c npmCase) (got bool, why string) {
	con, err := Parse(c.Range)
	switch c.Kind {
	case "parse":
		got = err == nil
		if got && c.Canonical != nil {
			if canon := con.canonical(c.IncludePrerelease); canon != *c.Canonical {
				return got, "canonical form " + canon + ", npm's " + *c.Canonical
			}
		}
	default:
		if v := npmVersion(c.Version); err == nil && v != nil {
			got = con.CheckWith(v, c.IncludePrerelease)
		}
	}
	if got == c.NPM {
		return got, ""
	}
	if err != nil {
		return got, err.Error()
	}
	return got, "answers " + map[bool]string{true: "yes", false: "no"}[got]
}

func TestNPMRangeFixtures(t *testing.T) {
	t.Parallel()
	cases, _ := loadNPMFixtures(t)
	agree, strict, strictAgree := 0, 0, 0
	differ := map[string]bool{}
	for _, c := range cases {
		_, why := answer(c)
		if !c.Loose {
			strict++
		}
		if why == "" {
			agree++
			if !c.Loose {
				strictAgree++
			}
			if reason, ok := npmKnownDifferences[c.ID]; ok {
				t.Errorf("%s (%q, %q): now agrees with npm, but is listed as a known difference (%s): update npmKnownDifferences and docs/CONSTRAINTS.md", c.ID, c.Range, deref(c.Version), reason)
			}
			continue
		}
		differ[c.ID] = true
		if _, ok := npmKnownDifferences[c.ID]; !ok {
			t.Errorf("%s: range %q, version %q, includePrerelease %v: npm says %v, uDOS %s", c.ID, c.Range, deref(c.Version), c.IncludePrerelease, c.NPM, why)
		}
	}
	var missing []string
	for id := range npmKnownDifferences {
		if _, ok := differ[id]; !ok && !containsID(cases, id) {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("known differences name fixtures that do not exist: %v", missing)
	}
	t.Logf("%d of %d fixtures agree with node-semver (%d of %d strict-mode ones), %d documented differences",
		agree, len(cases), strictAgree, strict, len(differ))
}

// The probes are versions around every bound of each valid range-parse
// range, answered by node-semver. They may differ only where the range is
// one uDOS refuses on purpose (an empty constraint or alternative, a loose
// one, an overlong one); every other answer must be npm's.
func TestNPMRangeProbes(t *testing.T) {
	t.Parallel()
	_, probes := loadNPMFixtures(t)
	if len(probes) == 0 {
		t.Fatal("the fixture file has no probes")
	}
	agree, excused := 0, 0
	for _, p := range probes {
		got, why := answer(p)
		if why == "" {
			agree++
			continue
		}
		_, err := Parse(p.Range)
		if err != nil && (strings.TrimSpace(strings.ReplaceAll(p.Range, "||", "")) == "" || p.Loose) {
			excused++
			continue
		}
		t.Errorf("%s: range %q, version %q, includePrerelease %v: npm says %v, uDOS %v (%s)", p.ID, p.Range, deref(p.Version), p.IncludePrerelease, p.NPM, got, why)
	}
	if excused == 0 {
		t.Error("no probe of a refused range differs: is the empty constraint accepted now? Update docs/CONSTRAINTS.md")
	}
	t.Logf("%d of %d probes agree with node-semver, %d differ on ranges refused on purpose", agree, len(probes), excused)
}

func containsID(cases []npmCase, id string) bool {
	for _, c := range cases {
		if c.ID == id {
			return true
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return "<not a string>"
	}
	return *s
}
