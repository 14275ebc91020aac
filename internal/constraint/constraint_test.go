package constraint

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// Every claim in docs/CONSTRAINTS.md and in the package comment has a row
// here: if Masterminds changes behaviour in an update, this table fails.
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
		{"x digit after x ignored", "1.x.3", "1.5.0", true, true},
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
		{"greater than star matches all", ">*", "1.0.0", true, true},
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
		{"prerelease constraint other tuple (npm: no)", ">=1.2.3-alpha", "1.3.0-beta", true, true},
		{"prerelease in and-group opens whole group (npm: no)", ">=1.2.3-alpha <2", "1.9.0-rc.1", true, true},
		{"caret prerelease next patch prerelease (npm: no)", "^1.2.3-beta.2", "1.2.4-beta", true, true},
		{"caret prerelease same tuple", "^1.2.3-beta.2", "1.2.3-beta.3", true, true},
		{"caret prerelease older", "^1.2.3-beta.2", "1.2.3-beta.1", false, false},
		{"prerelease in other or-group does not help", ">=2.0.0-alpha <2.0.0 || ^1", "1.5.0-beta", false, true},
		{"prerelease in this or-group", "^1 || >=2.0.0-alpha", "2.1.0-rc.1", true, true},
		{"zero prerelease lower bound", "^1.0.0-0", "1.5.0-alpha", true, true},
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
		{"caret star", "^*", `"^*"`},
		{"caret x in or", "^1 || ^x", `"^*"`},
		{"tilde zero", "~0.0.0", `"~0.0.0"`},
		{"tilde arrow zero", ">=1, ~>0.0.0", `"~0.0.0"`},
		{"four parts", "1.2.3.4", `cannot read "1.2.3.4"`},
		{"doubled operator", ">==1.2", `cannot read ">==1.2"`},
		{"space in operator", "> =1.2", `cannot read`},
		{"trailing comma", "^1.2,", "cannot read"},
		{"word", "latest", `cannot read "latest"`},
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
	tests := []struct {
		text, canonical string
		hasPre          bool
	}{
		{">=1.0, <2", ">=1.0 <2", false},
		{"1.2 - 2.3", ">=1.2 <=2.3", false},
		{"^1.2.3-beta.1", "^1.2.3-beta.1", true},
		{"^1.2-rc", "^1.2-rc", true},
		{"1.2.3 - 2.0.0", ">=1.2.3 <=2.0.0", false},
		{"~1 || >=2.0.0-alpha", "~1 || >=2.0.0-alpha", true},
	}
	for _, tt := range tests {
		c := MustParse(tt.text)
		if got := c.Canonical(); got != tt.canonical {
			t.Errorf("Canonical(%q) = %q, want %q", tt.text, got, tt.canonical)
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
	if err := json.Unmarshal([]byte(`{"version":"^*"}`), &d); err == nil {
		t.Error("Unmarshal of ^* succeeded, want error")
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
		"*", "x", "1.2.x", "1|2", "^*", "~0.0.0", "1.2 - 2.3", ">=1.2.3-alpha <2", "", "||", "v1"} {
		f.Add(s, "1.2.3")
	}
	f.Fuzz(func(t *testing.T, text, version string) {
		c, err := Parse(text)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Text != text {
				t.Fatalf("Parse(%q) error %v is not an *Error naming the text", text, err)
			}
			return
		}
		if c.String() != text {
			t.Fatalf("String() = %q, want %q", c.String(), text)
		}
		// The canonical form must mean the same thing.
		again, err := semver.NewConstraint(c.Canonical())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", c.Canonical(), text, err)
		}
		v, err := semver.NewVersion(version)
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
	})
}

// Parse refuses "^*" and "~0.0.0" because of what Masterminds makes of
// them; if a Masterminds update changes that, this test says so and the
// refusal can be reconsidered.
func TestRefusedConstructsMeaningInMasterminds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		constraint, version string
		want                bool
	}{
		{"^*", "0.0.0", true},
		{"^*", "0.0.5", false},
		{"^*", "2.0.0", false},
		{"^x", "0.1.0", false},
		{"~0.0.0", "0.0.5", true},
		{"~0.0.0", "3.5.0", true},
	}
	for _, tt := range tests {
		c, err := semver.NewConstraint(tt.constraint)
		if err != nil {
			t.Fatalf("Masterminds no longer parses %q: %v", tt.constraint, err)
		}
		if got := c.Check(semver.MustParse(tt.version)); got != tt.want {
			t.Errorf("Masterminds %q.Check(%s) = %v, want %v", tt.constraint, tt.version, got, tt.want)
		}
	}
}
