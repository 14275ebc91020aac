// Package libid names uDOS libraries. A library has one identity written
// four ways: the id "lib-grid-extensions", the namespace
// "@uDOS/grid-extensions", the short name "grid-extensions" and the install
// path "library/grid-extensions". Users may type any of the first three;
// Parse turns each into the same Ref.
//
// A short name is 1 to 64 characters of lowercase letters, digits and
// single hyphens, starting and ending with a letter or digit, and does not
// itself start with "lib-" (the id "lib-lib-x" would be ambiguous). The
// names "core", "lib-core" and "@uDOS/core" mean uDOS itself, whose version
// comes from the installation's version.json, not from a catalog.
package libid

import (
	"errors"
	"fmt"
	"strings"
)

const (
	// IDPrefix starts every library id.
	IDPrefix = "lib-"
	// Scope is the only namespace scope, as written canonically.
	Scope = "@uDOS"
	// CoreShort is the short name of uDOS itself.
	CoreShort = "core"
	// Core is the canonical name of uDOS itself in dependency lists.
	Core = Scope + "/" + CoreShort
	// InstallDir is the folder, relative to a uDOS root, that holds libraries.
	InstallDir = "library"
	// MaxShortLen bounds a short name, so ids stay usable as file names.
	MaxShortLen = 64
)

// ErrInvalid is wrapped by every error Parse and SplitSpec return.
var ErrInvalid = errors.New("invalid library name")

// Ref is a parsed library name.
type Ref struct {
	ID          string // lib-grid-extensions
	Namespace   string // @uDOS/grid-extensions
	Short       string // grid-extensions
	InstallPath string // library/grid-extensions; empty for the core
	Core        bool   // the name means uDOS itself
}

// String returns the id.
func (r Ref) String() string { return r.ID }

func invalid(name, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrInvalid, name, fmt.Sprintf(format, args...))
}

// Parse accepts an id, a namespace or a short name (surrounding blanks are
// ignored; the scope is matched without regard to case) and returns the
// library's Ref. Errors wrap ErrInvalid and name the input.
func Parse(name string) (Ref, error) {
	s := strings.TrimSpace(name)
	if s == "" {
		return Ref{}, invalid(name, "empty name")
	}
	var short string
	switch {
	case strings.HasPrefix(s, "@"):
		scope, rest, ok := strings.Cut(s, "/")
		if !ok {
			return Ref{}, invalid(name, "a namespace is written %s/<name>", Scope)
		}
		if !strings.EqualFold(scope, Scope) {
			return Ref{}, invalid(name, "unknown scope %q (only %s exists)", scope, Scope)
		}
		if rest == "" {
			return Ref{}, invalid(name, "nothing after %s/", Scope)
		}
		short = rest
	case strings.HasPrefix(s, IDPrefix):
		short = strings.TrimPrefix(s, IDPrefix)
		if short == "" {
			return Ref{}, invalid(name, "nothing after %q", IDPrefix)
		}
	default:
		short = s
	}
	if err := checkShort(name, short); err != nil {
		return Ref{}, err
	}
	if short == CoreShort {
		return Ref{ID: IDPrefix + CoreShort, Namespace: Core, Short: CoreShort, Core: true}, nil
	}
	return Ref{
		ID:          IDPrefix + short,
		Namespace:   Scope + "/" + short,
		Short:       short,
		InstallPath: InstallDir + "/" + short,
	}, nil
}

func checkShort(name, short string) error {
	if strings.Contains(short, "/") || strings.Contains(short, `\`) {
		return invalid(name, "a library name has no slashes (other than after %s)", Scope)
	}
	if strings.Contains(short, "..") {
		return invalid(name, `".." is not allowed`)
	}
	if len(short) > MaxShortLen {
		return invalid(name, "longer than %d characters", MaxShortLen)
	}
	if lower := strings.ToLower(short); lower != short && isWord(lower) {
		return invalid(name, "library names are lowercase (did you mean %q?)", lower)
	}
	for _, r := range short {
		if r >= 0x80 || (!isLower(byte(r)) && !isDigit(byte(r)) && r != '-') {
			return invalid(name, "character %q is not allowed (use lowercase letters, digits and '-')", r)
		}
	}
	switch {
	case strings.HasPrefix(short, "-") || strings.HasSuffix(short, "-"):
		return invalid(name, "starts or ends with '-'")
	case strings.Contains(short, "--"):
		return invalid(name, "contains '--'")
	case strings.HasPrefix(short, IDPrefix):
		return invalid(name, "the short name must not itself start with %q", IDPrefix)
	}
	return nil
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLower(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// IsCore reports whether name means uDOS itself: "@uDOS/core", "core" or
// "lib-core" (in any of the forms Parse accepts).
func IsCore(name string) bool {
	r, err := Parse(name)
	return err == nil && r.Core
}

// SplitSpec splits an install spec "name@constraint" into the name and the
// constraint text, e.g. "grid-extensions@^1.2" or
// "@uDOS/grid-extensions@^1.2.0". The leading '@' of a namespace is not a
// separator. Without '@' the constraint is empty. The name is validated with
// Parse; the constraint is returned as written (see package constraint).
func SplitSpec(spec string) (name, constraint string, err error) {
	s := strings.TrimSpace(spec)
	start := 0
	if strings.HasPrefix(s, "@") {
		start = 1
	}
	name = s
	if i := strings.IndexByte(s[start:], '@'); i >= 0 {
		name, constraint = s[:start+i], s[start+i+1:]
		if strings.TrimSpace(constraint) == "" {
			return "", "", fmt.Errorf("%w: spec %q has nothing after '@' (write %q for the newest version)", ErrInvalid, spec, name)
		}
	}
	if _, err := Parse(name); err != nil {
		return "", "", fmt.Errorf("spec %q: %w", spec, err)
	}
	return name, constraint, nil
}
