package ghrelease

import (
	"fmt"
	"regexp"
	"strings"
)

// Repo names a GitHub repository. This is the one parser of OWNER/NAME in
// udos-dist: action inputs, GITHUB_REPOSITORY, registry configs and the
// client's --from all come through ParseRepo.
type Repo struct {
	Owner, Name string
}

func (r Repo) String() string { return r.Owner + "/" + r.Name }

// GitHub's rules: a login is 1–39 letters, digits or single hyphens, not at
// either end (older accounts break the hyphen rules, so only the character
// set and length are enforced); a repository name is 1–100 of [A-Za-z0-9._-]
// and never "." or "..".
var (
	ownerRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	nameRe  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// ValidOwner reports whether s can be a GitHub user or organisation login.
func ValidOwner(s string) bool { return ownerRe.MatchString(s) }

// ParseRepo parses "OWNER/NAME" (surrounding space is ignored).
func ParseRepo(s string) (Repo, error) {
	owner, name, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || !ownerRe.MatchString(owner) || !nameRe.MatchString(name) || name == "." || name == ".." {
		return Repo{}, fmt.Errorf("invalid repository %q: want OWNER/NAME", s)
	}
	return Repo{Owner: owner, Name: name}, nil
}

// SplitRepository splits "owner/repo" (as in GITHUB_REPOSITORY).
func SplitRepository(full string) (owner, repo string, err error) {
	r, err := ParseRepo(full)
	return r.Owner, r.Name, err
}
