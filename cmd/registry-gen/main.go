// Command registry-gen turns .udos-package files into a registry folder:
// catalog.json (+ .asc when a key is given), packages/ and index/, from a
// local folder or (--github, github.go) from the GitHub Releases a
// registry.json names, with the Jekyll site. See internal/registry,
// docs/FORMATS.md and docs/REGISTRY.md.
//
//	registry-gen --from-dir DIR --out OUT [--base-url URL] [--sign-key FILE]
//	             [--keyring FILE] [--require-signatures] [--expires 720h]
//	             [--time RFC3339] [--json]
//	registry-gen --github --config registry.json --out OUT [...]
//
// The signing key's passphrase, if any, comes from UDOS_SIGN_PASSPHRASE.
// Exit status: 0 done, 1 failed, 2 bad usage.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/registry"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv)) }

type usageError struct{ error }

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if isGitHubMode(args) {
		return runGitHubMode(args, stdout, stderr, getenv)
	}
	err := generate(args, stdout, stderr, getenv)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "registry-gen: %v\nrun 'registry-gen --help' for usage\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "registry-gen: %v\n", err)
		return 1
	}
}

func generate(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("registry-gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: registry-gen --from-dir DIR --out OUT [flags]\n       registry-gen --github --config registry.json --out OUT [flags]  (see: registry-gen --github --help)\n\nFlags of the local mode:\n")
		fs.PrintDefaults()
	}
	var opts registry.Options
	var signKey, keyring, at string
	var asJSON bool
	fs.StringVar(&opts.FromDir, "from-dir", "", "folder holding the .udos-package files (and .asc signatures)")
	fs.StringVar(&opts.OutDir, "out", "", "registry folder to write (catalog.json, packages/, index/)")
	fs.StringVar(&opts.BaseURL, "base-url", "", "make catalog URLs absolute under this URL (default: relative)")
	fs.StringVar(&signKey, "sign-key", "", "armored private key file to sign catalog.json with (passphrase: $UDOS_SIGN_PASSPHRASE)")
	fs.StringVar(&keyring, "keyring", "", "armored public keys: every package's .asc must verify against them")
	fs.BoolVar(&opts.RequireSignatures, "require-signatures", false, "refuse packages without a .asc")
	fs.DurationVar(&opts.Expires, "expires", registry.DefaultExpires, "how long the catalog stays valid")
	fs.StringVar(&at, "time", "", "generation time, RFC 3339 (default: now; for reproducible output)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	case opts.FromDir == "":
		return usageError{errors.New("--from-dir is required (or --github --config FILE to build from GitHub Releases)")}
	case opts.OutDir == "":
		return usageError{errors.New("--out is required")}
	case opts.Expires <= 0:
		return usageError{fmt.Errorf("--expires %s must be positive", opts.Expires)}
	}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return usageError{fmt.Errorf("--time: %v", err)}
		}
		opts.Now = t
	}
	if signKey != "" {
		s, err := pgpsign.LoadSignerFile(signKey, []byte(getenv("UDOS_SIGN_PASSPHRASE")))
		if err != nil {
			return fmt.Errorf("loading signing key: %w", err)
		}
		opts.Signer = s
	}
	if keyring != "" {
		kr, err := pgpsign.LoadKeyringFile(keyring)
		if err != nil {
			return fmt.Errorf("loading keyring: %w", err)
		}
		opts.Keyring = kr
	}
	res, err := registry.Generate(opts)
	if err != nil {
		return err
	}
	if err := res.WriteSummary(stderr); err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return nil
}
