package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/ghrelease"
)

// GitHubConfig is the registry config of the GitHub mode (registry.json in
// the registry repository): which repositories, or whose repositories, hold
// libraries published by the publish-library action.
//
//	{
//	  "repositories": ["fredbook/udos-grid-extensions"],
//	  "owners": ["udos-libraries"],
//	  "publisher_keys": "keys/publishers.asc",
//	  "expires": "720h",
//	  "exclude": ["udos-libraries/attic"]
//	}
type GitHubConfig struct {
	// Repositories are "owner/name" repositories to read releases from.
	Repositories []string `json:"repositories,omitempty"`
	// Owners are users or organizations whose every repository is read
	// (repositories without library assets simply contribute nothing).
	Owners []string `json:"owners,omitempty"`
	// Exclude drops "owner/name" repositories an owner listing brings in.
	Exclude []string `json:"exclude,omitempty"`
	// PublisherKeys is an armored public keyring file (relative to the
	// config file) that every package signature must verify against.
	PublisherKeys string `json:"publisher_keys,omitempty"`
	// Expires is the catalog's lifetime as a Go duration ("720h").
	Expires string `json:"expires,omitempty"`
}

// LoadGitHubConfig reads and checks a registry config file. A relative
// publisher_keys path is made relative to the config file's folder.
func LoadGitHubConfig(path string) (*GitHubConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading registry config: %w", err)
	}
	cfg, err := ParseGitHubConfig(data)
	if err != nil {
		return nil, fmt.Errorf("registry config %q: %w", path, err)
	}
	if cfg.PublisherKeys != "" && !filepath.IsAbs(cfg.PublisherKeys) {
		cfg.PublisherKeys = filepath.Join(filepath.Dir(path), cfg.PublisherKeys)
	}
	return cfg, nil
}

// ParseGitHubConfig decodes a registry config; unknown fields are refused
// so a typo does not silently drop a repository.
func ParseGitHubConfig(data []byte) (*GitHubConfig, error) {
	var cfg GitHubConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("not a registry config: %w", err)
	}
	var probs []string
	for _, r := range cfg.Repositories {
		if _, err := ghrelease.ParseRepo(r); err != nil {
			probs = append(probs, fmt.Sprintf("repository %q is not OWNER/NAME", r))
		}
	}
	for _, r := range cfg.Exclude {
		if _, err := ghrelease.ParseRepo(r); err != nil {
			probs = append(probs, fmt.Sprintf("excluded repository %q is not OWNER/NAME", r))
		}
	}
	for _, o := range cfg.Owners {
		if !ghrelease.ValidOwner(o) {
			probs = append(probs, fmt.Sprintf("owner %q is not a GitHub login", o))
		}
	}
	if len(cfg.Repositories) == 0 && len(cfg.Owners) == 0 {
		probs = append(probs, "names no repositories and no owners")
	}
	if cfg.Expires != "" {
		if d, err := time.ParseDuration(cfg.Expires); err != nil || d <= 0 {
			probs = append(probs, fmt.Sprintf("expires %q is not a positive duration such as 720h", cfg.Expires))
		}
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(probs, "; "))
	}
	return &cfg, nil
}

// ExpiresIn returns the configured lifetime, or def.
func (c *GitHubConfig) ExpiresIn(def time.Duration) time.Duration {
	if c.Expires == "" {
		return def
	}
	d, _ := time.ParseDuration(c.Expires) // checked by ParseGitHubConfig
	return d
}

// dedupRepos returns the repositories sorted, case-insensitively unique,
// minus the excluded ones.
func dedupRepos(repos, exclude []string) []string {
	skip := map[string]bool{}
	for _, e := range exclude {
		skip[strings.ToLower(e)] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range repos {
		k := strings.ToLower(r)
		if seen[k] || skip[k] {
			continue
		}
		seen[k] = true
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return out
}
