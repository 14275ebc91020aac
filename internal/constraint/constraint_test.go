package constraint

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// Every claim in docs/CONSTRAINTS.md and in the package comment has a row
// here (npm_test.go checks node-semver's own fixtures besides).
func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, constraint, version string
		want, wantWithPre         bool
	}{
		// caret
		{"caret major", "^1.2", "1.9.9", true, true},
		{"caret major upper", "^1.2", "2.0.0", false, false},
		{"caret major lower", "^1.2", "1.1.9", false, false},
		{"caret full", "^1.2.3", "1.2.3", true, true},
		{"caret full below", "^1.2.3", "1.2.2", false, false},
		{"caret zero minor", "^0.2.3", "0.2.9", true, true},
		{"caret zero minor upper", "^0.2.3", "0.3.0", false, false},
		{"caret zero zero exact", "^0.0.3", "0.0.3", true, true},
		{"caret zero zero exact next", "^0.0.3", "0.0.4", false, false},
		{"caret zero", "^0", "0.9.0", true, true},
		{"caret zero upper", "^0", "1.0.0", false, false},
		{"caret zero x", "^0.x", "0.9.0", true, true},
		{"caret zero zero", "^0.0", "0.0.9", true, true},
		{"caret zero zero upper", "^0.0", "0.1.0", false, false},
		// tilde
		{"tilde full", "~1.2.3", "1.2.9", true, true},
		{"tilde full upper", "~1.2.3", "1.3.0", false, false},
		{"tilde minor", "~1.2", "1.2.9", true, true},
		{"tilde minor upper", "~1.2", "1.3.0", false, false},
		{"tilde major", "~1", "1.9.0", true, true},
		{"tilde major upper", "~1", "2.0.0", false, false},
		{"tilde zero", "~0", "0.5.0", true, true},
		{"tilde zero upper", "~0", "1.0.0", false, false},
		{"tilde arrow", "~>1.2.3", "1.2.4", true, true},
		// ranges
		{"range space", ">=1.0.0 <2.0.0", "1.5.0", true, true},
		{"range space upper", ">=1.0.0 <2.0.0", "2.0.0", false, false},
		{"range comma", ">=1.0, <2", "1.5.0", true, true},
		{"range comma no space", ">=1.0,<2", "2.0.0", false, false},
		{"range spaced operator", ">= 1.2.3", "1.2.3", true, true},
		{"hyphen range", "1.2 - 2.3", "2.3.9", true, true},
		{"hyphen range upper", "1.2 - 2.3", "2.4.0", false, false},
		{"greater than partial", ">1.2", "1.2.9", false, false},
		{"greater than partial next", ">1.2", "1.3.0", true, true},
		{"less equal partial", "<=1.2", "1.2.9", true, true},
		{"not equal", "!=1.2.3", "1.2.4", true, true},
		{"not equal same", "!=1.2.3", "1.2.3", false, false},
		// exact and wildcards
		{"exact", "1.2.3", "1.2.3", true, true},
		{"exact other", "1.2.3", "1.2.4", false, false},
		{"exact equals", "=1.2.3", "1.2.3", true, true},
		{"exact ignores metadata", "1.2.3", "1.2.3+build.7", true, true},
		{"partial is wildcard", "1.2", "1.2.9", true, true},
		{"equals partial is wildcard", "=1.2", "1.2.9", true, true},
		{"x patch", "1.2.x", "1.2.7", true, true},
		{"x patch other minor", "1.2.x", "1.3.0", false, false},
		{"star", "*", "4.0.0", true, true},
		{"x", "x", "1.2.3", true, true},
		{"x.x.x", "x.x.x", "4.0.0", true, true},
		{"capital X", "X", "4.0.0", true, true},
		{"major only", "1", "1.9.0", true, true},
		{"major only upper", "1", "2.0.0", false, false},
		{"major x x", "1.x.x", "1.9.9", true, true},
		{"caret zero zero x", "^0.0.x", "0.0.5", true, true},
		{"caret zero zero x upper", "^0.0.x", "0.1.0", false, false},
		{"tilde zero zero", "~0.0", "0.0.5", true, true},
		{"tilde zero zero upper", "~0.0", "0.1.0", false, false},
		{"less equal partial upper", "<=1.2", "1.3.0", false, false},
		{"v prefix", "v1.2.3", "1.2.3", true, true},
		{"less than star matches nothing", "<*", "1.0.0", false, false},
		{"greater than star matches nothing (as npm)", ">*", "1.0.0", false, false},
		{"greater than star not even 0.0.0", ">*", "0.0.0", false, false},
		{"greater equal star matches all", ">=*", "0.0.0", true, true},
		{"caret star is any version (as npm)", "^*", "2.0.0", true, true},
		{"caret x is any version", "^x", "0.0.5", true, true},
		{"tilde zero is below 0.1.0 (as npm)", "~0.0.0", "0.0.5", true, true},
		{"tilde zero upper", "~0.0.0", "0.1.0", false, false},
		{"tilde zero far", "~0.0.0", "3.5.0", false, false},
		{"and with tilde zero", ">=1, ~>0.0.0", "0.0.5", false, false},
		{"hyphen to x is open above (as npm)", "1.0.0 - x", "1.9.7", true, true},
		{"hyphen x to x", "1.x - x", "7.0.0", true, true},
		{"hyphen x to x lower", "1.x - x", "0.9.0", false, false},
		{"hyphen from x", "x - 1.0.0", "0.9.7", true, true},
		{"hyphen full upper inclusive", "1.0.0 - 2.0.0", "2.0.0", true, true},
		{"hyphen full upper next", "1.0.0 - 2.0.0", "2.0.1-alpha", false, false},
		{"hyphen partial upper", "1 - 2", "2.9.9", true, true},
		{"hyphen partial upper prerelease", "1 - 2", "3.0.0-pre", false, false},
		{"caret zero zero three no prerelease", "^0.0.3", "0.0.3-alpha", false, false},
		{"caret zero zero three not next prerelease", "^0.0.3", "0.0.4-alpha", false, false},
		{"less than partial", "<1.2", "1.1.9", true, true},
		{"less than partial excludes its prereleases", "<1.2", "1.2.0-beta", false, false},
		{"star patch", "1.2.*", "1.2.9", true, true},
		{"tilde star", "~*", "3.0.0", true, true},
		{"less than x matches nothing", "<x", "0.0.0", false, false},
		{"hyphen full", "1.2.3 - 2.3.4", "2.3.4", true, true},
		{"hyphen full above", "1.2.3 - 2.3.4", "2.3.5", false, false},
		{"core rc satisfies caret of its minor with prereleases", "^1.5", "1.5.0-rc.1", false, true},
		{"core rc does not satisfy its release", ">=1.5.0", "1.5.0-rc.1", false, false},
		{"not equal partial", "!=1.2", "1.2.7", false, false},
		{"not equal partial other", "!=1.2", "1.3.0", true, true},
		{"not equal partial prerelease", "!=1.2", "1.2.0-beta", false, false},
		{"not equal prerelease does not open prereleases", "!=1.2.3-beta", "1.2.3-alpha", false, true},
		{"not equal star", "!=*", "1.0.0", false, false},
		{"greater equal zero is any", ">=0.0.0", "0.0.0", true, true},
		{"greater equal zero with prereleases (npm: no, see CONSTRAINTS.md)", ">=0.0.0", "0.0.0-alpha", false, true},
		// or
		{"or first", "~1.2.3 || ^2", "1.2.5", true, true},
		{"or second", "~1.2.3 || ^2", "2.5.0", true, true},
		{"or neither", "~1.2.3 || ^2", "1.5.0", false, false},
		{"and of carets", "^1.2 ^2", "1.5.0", false, false},
		// pre-releases
		{"star excludes prerelease", "*", "1.0.0-rc.1", false, true},
		{"caret excludes prerelease", "^1.0", "1.5.0-beta", false, true},
		{"less than excludes prerelease of bound", "<2.0.0", "2.0.0-rc.1", false, true},
		{"caret never reaches next major prerelease", "^1.2.3", "2.0.0-rc.1", false, false},
		{"prerelease constraint same tuple", ">=1.2.3-alpha", "1.2.3-beta", true, true},
		{"prerelease constraint other tuple (as npm)", ">=1.2.3-alpha", "1.3.0-beta", false, true},
		{"prerelease in and-group opens only its tuple (as npm)", ">=1.2.3-alpha <2", "1.9.0-rc.1", false, true},
		{"prerelease in and-group same tuple", ">=1.2.3-alpha <2", "1.2.3-rc.1", true, true},
		{"caret prerelease next patch prerelease (as npm)", "^1.2.3-beta.2", "1.2.4-beta", false, true},
		{"caret prerelease same tuple", "^1.2.3-beta.2", "1.2.3-beta.3", true, true},
		{"caret prerelease older", "^1.2.3-beta.2", "1.2.3-beta.1", false, false},
		{"prerelease in other or-group does not help", ">=2.0.0-alpha <2.0.0 || ^1", "1.5.0-beta", false, true},
		{"prerelease in this or-group other tuple (as npm)", "^1 || >=2.0.0-alpha", "2.1.0-rc.1", false, true},
		{"prerelease in this or-group same tuple", "^1 || >=2.0.0-alpha", "2.0.0-rc.1", true, true},
		{"zero prerelease lower bound (as npm)", "^1.0.0-0", "1.5.0-alpha", false, true},
		{"zero prerelease lower bound same tuple", "^1.0.0-0", "1.0.0-alpha", true, true},
		{"any alternative swallows the others (as npm)", "* || 1.2.3-beta", "1.2.3-beta", false, true},
		// with pre-releases allowed, lower bounds of partial versions admit
		// the pre-releases of the bound (npm's includePrerelease)
		{"x-range admits its own prereleases", "2.x", "2.0.0-pre.0", false, true},
		{"x-range not the next major's", "2.x", "3.0.0-pre.0", false, false},
		{"partial admits its own prereleases", "1.1", "1.1.0-a", false, true},
		{"tilde partial admits its prereleases", "~1.1", "1.1.0-a", false, true},
		{"tilde full does not", "~1.2.3", "1.2.3-a", false, false},
		{"caret full does not", "^1.0.0", "1.0.0-rc1", false, false},
		{"caret partial does", "^1.0", "1.0.0-rc1", false, true},
		{"hyphen partial lower admits prereleases", "1 - 2", "1.0.0-pre", false, true},
		{"hyphen full lower admits prereleases", "1.0.0 - 2.0.0", "1.0.0-pre", false, true},
		{"greater equal x-range admits prereleases", ">=0.7.x", "0.7.0-asdf", false, true},
		{"plain greater equal does not", ">=0.7.0", "0.7.0-asdf", false, false},
		{"exact prerelease", "1.2.3-beta", "1.2.3-beta", true, true},
		{"prerelease below release", ">=1.2.3", "1.2.3-rc.1", false, false},
		{"prerelease below prerelease bound", "<1.2.3-beta", "1.2.3-alpha", true, true},
		{"release below prerelease bound", "<1.2.3-beta", "1.2.2", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse(tt.constraint)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.constraint, err)
			}
			v := semver.MustParse(tt.version)
			if got := c.Check(v); got != tt.want {
				t.Errorf("%q.Check(%s) = %v, want %v", tt.constraint, tt.version, got, tt.want)
			}
			if got := c.CheckWith(v, true); got != tt.wantWithPre {
				t.Errorf("%q.CheckWith(%s, true) = %v, want %v", tt.constraint, tt.version, got, tt.wantWithPre)
			}
			if got := c.CheckWith(v, false); got != tt.want {
				t.Errorf("%q.CheckWith(%s, false) = %v, want %v", tt.constraint, tt.version, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, problem string
	}{
		{"empty", "", "empty constraint"},
		{"blank", "   ", "empty constraint"},
		{"double ampersand", "^1.2 && <2", `"&&" is not an operator`},
		{"single pipe", "1|2", `single "|"`},
		{"triple pipe", "^1.2 ||| ^2", `"|||"`},
		{"empty alternative", "^1.2 || ", "empty alternative"},
		{"leading or", "||^1.2", "empty alternative"},
		{"number after x", "1.x.5", `cannot read "1.x.5": only x can follow an x (write "1.x")`},
		{"number after star", "1.*.5", `only x can follow an x`},
		{"number after x in or", "1.x.5 || 2.x", `cannot read "1.x.5"`},
		{"x first", "x.1", `cannot read "x.1": only x can follow an x (write "x")`},
		{"x x number", "x.x.1", "only x can follow an x"},
		{"leading zeros", ">01.02.03", `cannot read ">01.02.03": a version number has a leading zero`},
		{"leading zero", ">=09090", "leading zero"},
		{"leading zero in prerelease", "1.2.3-01", "numbers without leading zeros"},
		{"prerelease on partial", "^1.2-rc", `a pre-release needs all three numbers`},
		{"bad build", "1.2.3+", "build metadata"},
		{"bound over npm's largest number", "^9007199254740991.0.0", "malformed or too large"},
		{"number over npm's largest", "=9007199254740992.0.0", "malformed or too large"},
		{"lone operator", ">=", `cannot read ">=": an operator needs a version after it`},
		{"operator before operator", ">= <2", `cannot read ">="`},
		{"hyphen beside a comparator", "1 - 2 >=1.5", "a hyphen range stands alone"},
		{"hyphen with operator", ">=1 - 2", `cannot read ">=1" in the hyphen range ">=1 - 2": the ends of a hyphen range take no operator`},
		{"bad hyphen end", "1 - 2.x.3", `cannot read "2.x.3" in the hyphen range "1 - 2.x.3"`},
		{"leading comma", ", ^1", "a comma must stand between two comparators"},
		{"loose prerelease", "~1.2.3beta", `cannot read "~1.2.3beta": not a version`},
		{"v and equals", "v=1.2.3", "not a version"},
		{"double equals", "== 1.0.0", `cannot read "=="`},
		{"long text is shortened", "1.0.0-" + strings.Repeat("x", 10<<10), `invalid constraint "1.0.0-xxxxxxxxxx`},
		{"four parts", "1.2.3.4", `cannot read "1.2.3.4"`},
		{"doubled operator", ">==1.2", `cannot read ">==1.2"`},
		{"space in operator", "> =1.2", `cannot read`},
		{"trailing comma", "^1.2,", "cannot read"},
		{"word", "latest", `cannot read "latest"`},
		{"tab separated word", "^1\tlatest", `cannot read "latest"`},
		{"number too large", "^99999999999999999999", "malformed or too large"},
		{"too long", strings.Repeat("1", 600), "longer than 512 bytes"},
		{"too many alternatives", strings.Repeat("1 || ", 40) + "1", "more than 32 alternatives"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse(tt.text)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error", tt.text, c)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Text != tt.text {
				t.Fatalf("Parse(%q) error %T %v, want *Error naming the text", tt.text, err, err)
			}
			if !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("Parse(%q) error %q, want it to mention %q", tt.text, err, tt.problem)
			}
			if !strings.HasPrefix(err.Error(), "invalid constraint ") {
				t.Errorf("error %q does not start with %q", err, "invalid constraint ")
			}
			if len(err.Error()) > 600 {
				t.Errorf("error message is %d bytes long: operands must be shortened", len(err.Error()))
			}
		})
	}
}

func TestAcceptedForms(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"^1.2", "~1.2.3", ">=1.0.0 <2.0.0", ">=1.0, <2", "1.2.3", "=1.2.3", "^1 || ^2", "*", "x", "X",
		"1.2.x", "1.x", "  ^1.2  ", "~*", "^0.0.x", "~0.0", ">= 1.0.0", "1.2.3 - 2", "^1.0.0-0",
	} {
		c, err := Parse(text)
		if err != nil {
			t.Errorf("Parse(%q): %v", text, err)
			continue
		}
		if c.String() != text {
			t.Errorf("Parse(%q).String() = %q, want the original text", text, c.String())
		}
	}
}

func TestCanonicalAndPrerelease(t *testing.T) {
	t.Parallel()
	// Canonical is node-semver's normal form (npm_test.go compares it with
	// node-semver's own on every range-parse fixture).
	tests := []struct {
		text, canonical, canonicalPre string
		hasPre                        bool
	}{
		{">=1.0, <2", ">=1.0.0 <2.0.0-0", ">=1.0.0-0 <2.0.0-0", false},
		{"1.2 - 2.3", ">=1.2.0 <2.4.0-0", ">=1.2.0-0 <2.4.0-0", false},
		{"^1.2.3-beta.1", ">=1.2.3-beta.1 <2.0.0-0", ">=1.2.3-beta.1 <2.0.0-0", true},
		{"1.2.3 - 2.0.0", ">=1.2.3 <=2.0.0", ">=1.2.3-0 <2.0.1-0", false},
		{"~1 || >=2.0.0-alpha", ">=1.0.0 <2.0.0-0||>=2.0.0-alpha", ">=1.0.0-0 <2.0.0-0||>=2.0.0-alpha", true},
		{"1.x.x-alpha", ">=1.0.0 <2.0.0-0", ">=1.0.0-0 <2.0.0-0", false},
		{"!=1.2.3-beta", "!=1.2.3-beta", "!=1.2.3-beta", false},
		{"!=1.2 !=2", "!=1.2.x !=2.x.x", "!=1.2.x !=2.x.x", false},
		{"*", "*", "*", false},
		{"^0.0", "<0.1.0-0", "<0.1.0-0", false},
		{">1 <1", ">=2.0.0 <1.0.0-0", ">=2.0.0-0 <1.0.0-0", false},
		{"<x || >*", "<0.0.0-0", "<0.0.0-0", false},
		{"1.2.3 1.2.3 =1.2.3", "1.2.3", "1.2.3", false},
	}
	for _, tt := range tests {
		c := MustParse(tt.text)
		if got := c.Canonical(); got != tt.canonical {
			t.Errorf("Canonical(%q) = %q, want %q", tt.text, got, tt.canonical)
		}
		if got := c.canonical(true); got != tt.canonicalPre {
			t.Errorf("canonical(%q, with pre-releases) = %q, want %q", tt.text, got, tt.canonicalPre)
		}
		if got := c.HasPrerelease(); got != tt.hasPre {
			t.Errorf("HasPrerelease(%q) = %v, want %v", tt.text, got, tt.hasPre)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	type dep struct {
		Version *Constraint `json:"version"`
	}
	in := `{"version":"\u003e=1.0, \u003c2"}`
	var d dep
	if err := json.Unmarshal([]byte(in), &d); err != nil {
		t.Fatal(err)
	}
	if d.Version.String() != ">=1.0, <2" {
		t.Fatalf("got %q", d.Version)
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("Marshal = %s, want %s", out, in)
	}
	if err := json.Unmarshal([]byte(`{"version":"1.x.5"}`), &d); err == nil {
		t.Error("Unmarshal of 1.x.5 succeeded, want error")
	}
}

func TestMustParsePanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("MustParse(\"nope\") did not panic")
		}
	}()
	MustParse("nope")
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"^1.2", "~1.2.3", ">=1.0.0 <2.0.0", ">=1.0, <2", "1.2.3", "=1.2.3", "^1 || ^2",
		"*", "x", "1.2.x", "1|2", "^*", "~0.0.0", "1.2 - 2.3", ">=1.2.3-alpha <2", "", "||", "v1",
		"1.x.5", ">01.02.03", "1.0.0 - x", "!=1.2", "<x <* || >* 2.x", "^0.0.1-beta", ">=0.0.0 <=0.0.0-beta"} {
		f.Add(s, "1.2.3")
		f.Add(s, "1.2.3-beta.1")
	}
	f.Fuzz(func(t *testing.T, text, version string) {
		c, err := Parse(text)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Text != text {
				t.Fatalf("Parse(%q) error %v is not an *Error naming the text", text, err)
			}
			if len(err.Error()) > 1000 {
				t.Fatalf("Parse(%q): a %d-byte error message", text, len(err.Error()))
			}
			return
		}
		if c.String() != text {
			t.Fatalf("String() = %q, want %q", c.String(), text)
		}
		// Each canonical form must parse and mean the same in its mode.
		again, err := Parse(c.Canonical())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", c.Canonical(), text, err)
		}
		againPre, err := Parse(c.canonical(true))
		if err != nil {
			t.Fatalf("canonical form %q of %q (pre-releases allowed) does not parse: %v", c.canonical(true), text, err)
		}
		v, err := semver.StrictNewVersion(version)
		if err != nil {
			return
		}
		if c.CheckWith(v, true) && !c.CheckWith(v, false) && v.Prerelease() == "" {
			t.Fatalf("%q: release %s allowed only with pre-releases on", text, v)
		}
		if c.Check(v) && !c.CheckWith(v, true) {
			t.Fatalf("%q: allowing pre-releases rejected %s", text, v)
		}
		if again.Check(v) != c.Check(v) {
			t.Fatalf("%q and its canonical form %q disagree on %s", text, c.Canonical(), v)
		}
		if againPre.CheckWith(v, true) != c.CheckWith(v, true) {
			t.Fatalf("%q and its canonical form %q disagree on %s with pre-releases allowed", text, c.canonical(true), v)
		}
	})
}

// The range layer is this package's own because Masterminds' constraints
// mean something else than npm's in these places (the package comment
// says so); if a Masterminds update changes them, this test says so and
// the translation can be reconsidered.
func TestMastermindsRangesDiffer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		constraint, version string
		masterminds, ours   bool
	}{
		{"^*", "0.0.0", true, true},
		{"^*", "0.0.5", false, true},
		{"^*", "2.0.0", false, true},
		{"^x", "0.1.0", false, true},
		{"~0.0.0", "0.0.5", true, true},
		{"~0.0.0", "3.5.0", true, false},
		{"1.0.0 - x", "1.9.7", false, true},
		{"1.x - x", "1.9.7", false, true},
		{">*", "1.0.0", true, false},
		{">=1.2.3-alpha", "1.3.0-beta", true, false},
	}
	for _, tt := range tests {
		c, err := semver.NewConstraint(tt.constraint)
		if err != nil {
			t.Fatalf("Masterminds no longer parses %q: %v", tt.constraint, err)
		}
		v := semver.MustParse(tt.version)
		if got := c.Check(v); got != tt.masterminds {
			t.Errorf("Masterminds %q.Check(%s) = %v, want %v", tt.constraint, tt.version, got, tt.masterminds)
		}
		if got := MustParse(tt.constraint).Check(v); got != tt.ours {
			t.Errorf("%q.Check(%s) = %v, want %v", tt.constraint, tt.version, got, tt.ours)
		}
	}
	// Masterminds accepts what npm refuses.
	for _, text := range []string{"1.x.5", "x.1", ">01.02.03"} {
		if _, err := semver.NewConstraint(text); err != nil {
			t.Errorf("Masterminds now refuses %q: %v", text, err)
		}
		if _, err := Parse(text); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", text)
		}
	}
}
