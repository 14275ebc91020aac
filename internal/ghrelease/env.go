package ghrelease

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
