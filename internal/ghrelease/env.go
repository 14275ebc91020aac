package ghrelease

import (
	"fmt"
	"strings"
)

// ConfigFromEnv fills the connection fields of a Config the way GitHub
// Actions (and GitHub Enterprise) set them: GITHUB_API_URL, then
// GITHUB_TOKEN or GH_TOKEN. getenv is passed in (os.Getenv in a main) so
// library code never reads the environment itself.
func ConfigFromEnv(getenv func(string) string) Config {
	cfg := Config{APIURL: getenv("GITHUB_API_URL"), Token: getenv("GITHUB_TOKEN")}
	if cfg.Token == "" {
		cfg.Token = getenv("GH_TOKEN")
	}
	return cfg
}

// SplitRepository splits "owner/repo" (as in GITHUB_REPOSITORY).
func SplitRepository(full string) (owner, repo string, err error) {
	owner, repo, ok := strings.Cut(strings.TrimSpace(full), "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return "", "", fmt.Errorf("invalid repository %q: want OWNER/REPO", full)
	}
	return owner, repo, nil
}
