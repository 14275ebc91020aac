package actionkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/pgpsign"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestArmoredKeyMasksEveryBodyLine(t *testing.T) {
	t.Parallel()
	priv, _, err := pgpsign.GenerateTestKey("CI", "ci@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  string
	}{
		{"as generated", string(priv)},
		{"CRLF line ends and indentation", "  " + strings.ReplaceAll(string(priv), "\n", "\r\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			k := New(env(map[string]string{"INPUT_SIGNING-KEY": tc.key, "GITHUB_ACTIONS": "true"}), &log)
			if got := k.ArmoredKey("signing-key"); got != tc.key {
				t.Fatal("the key came back altered")
			}
			masks := map[string]bool{}
			for _, l := range strings.Split(log.String(), "\n") {
				if m, ok := strings.CutPrefix(l, "::add-mask::"); ok {
					masks[m] = true
				} else if l != "" {
					t.Errorf("unexpected log line %q", l)
				}
			}
			body := 0
			for _, l := range strings.Split(string(priv), "\n") {
				switch {
				case strings.HasPrefix(l, "-----"), len(l) <= 8:
					if masks[l] {
						t.Errorf("masked armor or short line %q", l)
					}
				default:
					body++
					if !masks[l] {
						t.Errorf("line %q is not masked", l)
					}
				}
			}
			if body < 5 {
				t.Fatalf("only %d body lines: not an armored key?", body)
			}
		})
	}
}

func TestSecretsAreMaskedAsRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string
		read        func(*Kit) string
		want, mask  string
	}{
		{"raw keeps spaces", " pass word ", func(k *Kit) string { return k.RawSecret("signing-passphrase") }, " pass word ", "::add-mask:: pass word \n"},
		{"trimmed", " tok\n", func(k *Kit) string { return k.Secret("signing-passphrase") }, "tok", "::add-mask::tok\n"},
		{"escaped like any command", "50%\nx", func(k *Kit) string { return k.RawSecret("signing-passphrase") }, "50%\nx", "::add-mask::50%25%0Ax\n"},
		{"empty masks nothing", "", func(k *Kit) string { return k.RawSecret("signing-passphrase") }, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			k := New(env(map[string]string{"INPUT_SIGNING_PASSPHRASE": tc.value, "GITHUB_ACTIONS": "true"}), &log)
			if got := tc.read(k); got != tc.want {
				t.Errorf("read %q, want %q", got, tc.want)
			}
			if log.String() != tc.mask {
				t.Errorf("log %q, want %q", log.String(), tc.mask)
			}
		})
	}
}

func TestInputs(t *testing.T) {
	t.Parallel()
	e := Env(env(map[string]string{
		"INPUT_SOURCE-DATE-EPOCH": " 17 ",
		"INPUT_VARIANTS_FILE":     "v.json\n",
		"INPUT_MODE":              "  ",
		"INPUT_TOKEN":             "dash",
		"INPUT_TOKEN_X":           "unused",
	}))
	tests := []struct {
		name, input, def, want, raw string
	}{
		{"dash spelling", "source-date-epoch", "", "17", " 17 "},
		{"underscore spelling", "variants-file", "", "v.json", "v.json\n"},
		{"blank is the default", "mode", "build", "build", "  "},
		{"unset", "strict", "false", "false", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := e.InputOr(tc.input, tc.def); got != tc.want {
				t.Errorf("InputOr = %q, want %q", got, tc.want)
			}
			if got := e.RawInput(tc.input); got != tc.raw {
				t.Errorf("RawInput = %q, want %q", got, tc.raw)
			}
		})
	}
}

func TestBool(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string
		def, want   bool
		err         string
	}{
		{"true", "true", false, true, ""},
		{"TRUE", "TRUE", false, true, ""},
		{"false", "false", true, false, ""},
		{"padded", " true\n", false, true, ""},
		{"empty is the default", "", true, true, ""},
		{"yes is refused", "yes please", false, false, `input upload: "yes please" is not true or false`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Env(env(map[string]string{"INPUT_UPLOAD": tc.value})).Bool("upload", tc.def)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("= %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, ws, p, want string }{
		{"relative joins the workspace", "/w", "dist", "/w/dist"},
		{"dot is the workspace", "/w", ".", "/w"},
		{"absolute stays", "/w", "/opt/k", "/opt/k"},
		{"empty stays empty", "/w", "", ""},
		{"outside Actions", "", "dist", "dist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Env(env(map[string]string{"GITHUB_WORKSPACE": tc.ws})).Path(tc.p); got != tc.want {
				t.Errorf("Path(%q) = %q, want %q", tc.p, got, tc.want)
			}
		})
	}
}

func TestEscapeAndErrorLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, title, msg, want string }{
		{"plain", "", "boom", "::error::boom\n"},
		{"newlines", "", "one\ntwo\r\nthree", "::error::one%0Atwo%0D%0Athree\n"},
		{"percent first", "", "100%0A sure", "::error::100%250A sure\n"},
		{"titled", "sonic-iso", "a: b, c", "::error title=sonic-iso::a: b, c\n"},
		{"title is a property", "x:y,z\n", "m", "::error title=x%3Ay%2Cz%0A::m\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ErrorLine(tc.title, tc.msg); got != tc.want {
				t.Errorf("ErrorLine = %q, want %q", got, tc.want)
			}
			var w bytes.Buffer
			if code := ExitCode(&w, tc.title, errors.New(tc.msg)); code != 1 || w.String() != tc.want {
				t.Errorf("ExitCode = %d, %q", code, w.String())
			}
		})
	}
	var w bytes.Buffer
	if code := ExitCode(&w, "t", nil); code != 0 || w.Len() != 0 {
		t.Errorf("ExitCode(nil) = %d, %q", code, w.String())
	}
}

// TestOutputsAndSummary: under the runner (GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY set) the files receive them; outside it, where
// go-githubactions would panic, they go to the log.
func TestOutputsAndSummary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		runner bool
	}{
		{"outside Actions", false},
		{"under the runner", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out, sum := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
			m := map[string]string{}
			if tc.runner {
				m["GITHUB_OUTPUT"], m["GITHUB_STEP_SUMMARY"] = out, sum
			}
			var log bytes.Buffer
			k := New(env(m), &log)
			k.SetOutput("sha256", "abc")
			k.SetOutput("release-url", "https://example.org/r")
			k.Summary("### done\n")

			if !strings.Contains(log.String(), "sha256=abc\nrelease-url=https://example.org/r\n") {
				t.Errorf("log lacks the name=value lines:\n%s", log.String())
			}
			o, oerr := os.ReadFile(out)
			s, serr := os.ReadFile(sum)
			if !tc.runner {
				if !errors.Is(oerr, os.ErrNotExist) || !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("files written outside Actions: %v %v", oerr, serr)
				}
				if !strings.Contains(log.String(), "### done\n") {
					t.Errorf("summary not in the log:\n%s", log.String())
				}
				return
			}
			if !strings.Contains(string(o), "sha256<<") || !strings.Contains(string(o), "\nabc\n") || !strings.Contains(string(o), "release-url<<") {
				t.Errorf("GITHUB_OUTPUT:\n%s", o)
			}
			if string(s) != "### done\n\n" && string(s) != "### done\n" {
				t.Errorf("GITHUB_STEP_SUMMARY = %q", s)
			}
			if strings.Contains(log.String(), "### done") {
				t.Errorf("summary also in the log:\n%s", log.String())
			}
		})
	}
}

func TestSplitRepository(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, owner, name string }{
		{"fredbook/uDOS", "fredbook", "uDOS"},
		{"uDOS", "", ""},
		{"/uDOS", "", ""},
		{"fredbook/", "", ""},
		{"a/b/c", "", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			o, n, err := SplitRepository(tc.in)
			if tc.owner == "" {
				if err == nil || !strings.Contains(err.Error(), "input repository") {
					t.Errorf("err = %v, want one naming the input", err)
				}
				return
			}
			if err != nil || o != tc.owner || n != tc.name {
				t.Errorf("= %q, %q, %v", o, n, err)
			}
		})
	}
}

func TestSecretsMasksAllThreeFirst(t *testing.T) {
	t.Parallel()
	priv, _, err := pgpsign.GenerateTestKey("CI", "ci@example.org", []byte(" pw "))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	k := New(env(map[string]string{
		"INPUT_SIGNING-KEY": string(priv), "INPUT_SIGNING_PASSPHRASE": " pw ", "INPUT_TOKEN": "ghs_token\n",
		"GITHUB_ACTIONS": "true",
	}), &log)
	s := k.Secrets()
	if s.Key != string(priv) || s.Passphrase != " pw " || s.Token != "ghs_token" {
		t.Errorf("Secrets() = %q, %q, %q", s.Key[:20], s.Passphrase, s.Token)
	}
	want := ""
	for _, l := range KeyMaskLines(string(priv)) {
		want += "::add-mask::" + l + "\n"
	}
	want += "::add-mask:: pw \n::add-mask::pw\n::add-mask::ghs_token\n"
	if log.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", log.String(), want)
	}
	if _, err := pgpsign.LoadSigner([]byte(s.Key), []byte(s.Passphrase)); err != nil {
		t.Errorf("the key as read does not load: %v", err)
	}
}

// TestSecretsOutsideActions: run anywhere but under the runner, nothing
// reads workflow commands, so the secrets are read but never written out,
// not even as ::add-mask:: lines; GITHUB_ACTIONS other than "true" is not
// the runner.
func TestSecretsOutsideActions(t *testing.T) {
	t.Parallel()
	priv, _, err := pgpsign.GenerateTestKey("CI", "ci@example.org", []byte(" pw "))
	if err != nil {
		t.Fatal(err)
	}
	for _, actions := range []string{"", "false", "1"} {
		var log bytes.Buffer
		k := New(env(map[string]string{
			"INPUT_SIGNING-KEY": string(priv), "INPUT_SIGNING_PASSPHRASE": " pw ", "INPUT_TOKEN": "ghs_token", "GITHUB_ACTIONS": actions,
		}), &log)
		s := k.Secrets()
		if s.Key != string(priv) || s.Passphrase != " pw " || s.Token != "ghs_token" {
			t.Errorf("GITHUB_ACTIONS=%q: Secrets() did not return the inputs", actions)
		}
		k.Mask("another")
		if log.Len() != 0 {
			t.Errorf("GITHUB_ACTIONS=%q: printed %q", actions, log.String())
		}
	}
}

func TestMain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   error
		title string
		code  int
		log   string
	}{
		{"success", nil, "publish-library", 0, "ran\n"},
		{"failure", errors.New("no token:\nset it"), "publish-library", 1, "ran\n::error title=publish-library::no token:%0Aset it\n"},
		{"untitled", errors.New("bad"), "", 1, "ran\n::error::bad\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			getenv := env(map[string]string{"INPUT_X": "ran"})
			code := Main(tc.title, getenv, &log, func(ctx context.Context, getenv func(string) string, w io.Writer) error {
				if ctx.Err() != nil {
					t.Error("context already done")
				}
				fmt.Fprintln(w, Env(getenv).Input("x"))
				return tc.err
			})
			if code != tc.code || log.String() != tc.log {
				t.Errorf("Main = %d, %q; want %d, %q", code, log.String(), tc.code, tc.log)
			}
		})
	}
}
