package variant

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Finding is one secret the scan found in a staged file. It names the
// file, the line and the kind of secret, never the secret itself.
type Finding struct {
	Path string // in the checkout
	Line int    // 0 when the whole file is the finding
	What string
}

func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", f.Path, f.Line, f.What)
	}
	return f.Path + ": " + f.What
}

// SecretsError refuses a variant in which secrets would ship.
type SecretsError struct {
	Variant  string
	Findings []Finding
}

func (e *SecretsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "variant %s: %d secret(s) would ship:", e.Variant, len(e.Findings))
	for _, f := range e.Findings {
		b.WriteString("\n  - " + f.String())
	}
	p := e.Findings[0].Path
	fmt.Fprintf(&b, "\n(untrack each one: git rm --cached %s, add it to .gitignore and rotate the secret; "+
		"or, if it is not a secret, allow it by path: \"allow_secrets\": [%q] in %s)", p, p, FileName)
	return b.String()
}

var (
	pemPrivate = regexp.MustCompile(`-----BEGIN ((RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----`)
	// Token formats with a fixed, recognisable shape.
	tokenRes = []struct {
		re   *regexp.Regexp
		what string
	}{
		{regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36,}\b`), "GitHub token"},
		{regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9_]{40,}\b`), "GitHub fine-grained token"},
		{regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`), "AWS access key id"},
		{regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}\b`), "Slack token"},
		{regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`), "Google API key"},
		{regexp.MustCompile(`\bsk-(ant-|proj-)?[A-Za-z0-9_-]{32,}\b`), "API secret key (sk-…)"},
		{regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}\b`), "GitLab token"},
	}
	// An assignment in a dotenv file whose name says it holds a secret.
	envAssign   = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$`)
	secretName  = regexp.MustCompile(`(?i)(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)`)
	placeholder = regexp.MustCompile(`(?i)^(|changeme|change-me|change_me|xxx+|\*+|<.*>|\$\{.*\}|\$[A-Za-z_]+|your[-_ ].*|none|null|false|true|example.*|placeholder|todo|dummy|test)$`)
	// File names that hold key material whatever they contain.
	secretFiles = []struct{ pattern, what string }{
		{".oauth_key", "OAuth key file"},
		{"*.oauth_key", "OAuth key file"},
		{"id_rsa", "SSH private key file"},
		{"id_dsa", "SSH private key file"},
		{"id_ecdsa", "SSH private key file"},
		{"id_ed25519", "SSH private key file"},
		{"*.p12", "PKCS#12 key store"},
		{"*.pfx", "PKCS#12 key store"},
		{"*.jks", "Java key store"},
		{"*.keystore", "key store"},
		{".netrc", "netrc credentials file"},
		{".pypirc", "PyPI credentials file"},
		{".htpasswd", "password file"},
		{"*.secret", "secret file"},
		{".secret_key", "secret key file"},
		{"secret_key", "secret key file"},
		{"credentials.json", "credentials file"},
		{"service-account*.json", "service account key"},
	}
)

// isDotenv reports whether base is a dotenv file that may hold real values
// (.env, .env.local, wizard.env), not a template (.env.example).
func isDotenv(base string) bool {
	if base != ".env" && !strings.HasPrefix(base, ".env.") && !strings.HasSuffix(base, ".env") {
		return false
	}
	for _, t := range []string{".example", ".sample", ".template", ".dist", ".defaults"} {
		if strings.HasSuffix(base, t) {
			return false
		}
	}
	return true
}

// scanLimit bounds how much of one file the scan reads: secrets sit in
// small files, and a large asset is not worth reading whole.
const scanLimit = 4 << 20

// ScanSecrets returns the findings in one file's contents; name is its path
// (for the base-name rules and the findings).
func ScanSecrets(name string, r io.Reader) ([]Finding, error) {
	var out []Finding
	base := path.Base(name)
	for _, sf := range secretFiles {
		if ok, _ := path.Match(sf.pattern, base); ok {
			out = append(out, Finding{Path: name, What: sf.what})
			break
		}
	}
	data, err := io.ReadAll(io.LimitReader(r, scanLimit))
	if err != nil {
		return nil, fmt.Errorf("scanning %s for secrets: %w", name, err)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return out, nil // binary: no text secrets to match
	}
	lineOf := func(i int) int { return bytes.Count(data[:i], []byte("\n")) + 1 }
	// Each pattern runs once over the whole file (linear time), not per line.
	var hits []Finding
	for _, loc := range pemPrivate.FindAllIndex(data, -1) {
		hits = append(hits, Finding{Path: name, Line: lineOf(loc[0]), What: "private key (PEM)"})
	}
	for _, t := range tokenRes {
		for _, loc := range t.re.FindAllIndex(data, -1) {
			hits = append(hits, Finding{Path: name, Line: lineOf(loc[0]), What: t.what})
		}
	}
	if isDotenv(base) {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64<<10), scanLimit)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if m := envAssign.FindStringSubmatch(line); m != nil && secretName.MatchString(m[1]) {
				v := strings.Trim(m[2], `"'`)
				if !placeholder.MatchString(v) {
					hits = append(hits, Finding{Path: name, Line: n, What: fmt.Sprintf("%s is set in a dotenv file", m[1])})
				}
			}
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Line < hits[j].Line })
	out = append(out, hits...)
	return out, nil
}

// scanSecrets scans every staged file from the checkout (what the toolkit
// generates or supplies holds none) and refuses the variant with every
// finding. A path in the variants file's allow_secrets is not reported.
func (s *stager) scanSecrets() error {
	allowed := map[string]bool{}
	for _, a := range s.v.AllowSecrets {
		allowed[a] = true
	}
	seen := map[string]bool{}
	var findings []Finding
	for _, f := range s.files {
		if f.src == "" || seen[f.src] || allowed[f.src] {
			continue
		}
		seen[f.src] = true
		fh, err := os.Open(s.t.disk(f.src))
		if err != nil {
			return fmt.Errorf("variant %s: %w", s.v.Name, err)
		}
		fs, err := ScanSecrets(f.src, fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("variant %s: %w", s.v.Name, err)
		}
		findings = append(findings, fs...)
	}
	if len(findings) == 0 {
		return nil
	}
	sort.Slice(findings, func(i, j int) bool {
		if findings[i].Path != findings[j].Path {
			return findings[i].Path < findings[j].Path
		}
		return findings[i].Line < findings[j].Line
	})
	return &SecretsError{Variant: s.v.Name, Findings: findings}
}
