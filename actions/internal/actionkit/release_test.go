package actionkit

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestVersionFromRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		env              map[string]string
		input            string
		tag, tagVer, ver string
	}{
		{"v tag", map[string]string{"GITHUB_REF": "refs/tags/v1.4.6"}, "", "v1.4.6", "1.4.6", "1.4.6"},
		{"bare tag", map[string]string{"GITHUB_REF": "refs/tags/1.4.6"}, "", "1.4.6", "1.4.6", "1.4.6"},
		{"input wins", map[string]string{"GITHUB_REF": "refs/tags/v1.4.6"}, "v1.4.7", "v1.4.6", "1.4.6", "1.4.7"},
		{"input without v", nil, " 2.0.0-rc.1 ", "", "", "2.0.0-rc.1"},
		{"branch", map[string]string{"GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch"}, "", "", "", ""},
		{"not a version tag", map[string]string{"GITHUB_REF": "refs/tags/release-x"}, "", "release-x", "", ""},
		{"v alone", map[string]string{"GITHUB_REF": "refs/tags/vNext"}, "", "vNext", "", ""},
		{"ref name of a tag", map[string]string{"GITHUB_REF_NAME": "v1.4.6", "GITHUB_REF_TYPE": "tag"}, "", "v1.4.6", "1.4.6", "1.4.6"},
		{"ref name of a branch", map[string]string{"GITHUB_REF_NAME": "v1.4.6", "GITHUB_REF_TYPE": "branch"}, "", "", "", ""},
		{"GITHUB_REF wins over ref name", map[string]string{"GITHUB_REF": "refs/heads/v1", "GITHUB_REF_NAME": "v1.4.6", "GITHUB_REF_TYPE": "tag"}, "", "", "", ""},
		{"nothing", nil, "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := Env(env(tc.env))
			if got := e.Tag(); got != tc.tag {
				t.Errorf("Tag = %q, want %q", got, tc.tag)
			}
			if got := e.TagVersion(); got != tc.tagVer {
				t.Errorf("TagVersion = %q, want %q", got, tc.tagVer)
			}
			if got := e.Version(tc.input); got != tc.ver {
				t.Errorf("Version(%q) = %q, want %q", tc.input, got, tc.ver)
			}
		})
	}
}

func TestTagOf(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, ref, version, want string }{
		{"same version", "refs/tags/v1.4.6", "1.4.6", "v1.4.6"},
		{"same, both with v", "refs/tags/v1.4.6", "v1.4.6", "v1.4.6"},
		{"bare tag", "refs/tags/1.4.6", "1.4.6", "1.4.6"},
		{"no version takes the tag", "refs/tags/release-x", "", "release-x"},
		{"another version names its own tag", "refs/tags/v1.4.6", "1.4.7", ""},
		{"not a tag push", "refs/heads/main", "1.4.6", ""},
		{"nothing", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Env(env(map[string]string{"GITHUB_REF": tc.ref})).TagOf(tc.version); got != tc.want {
				t.Errorf("TagOf(%q) = %q, want %q", tc.version, got, tc.want)
			}
		})
	}
}

// gitRepo makes a repository whose HEAD was committed at unix.
func gitRepo(t *testing.T, unix string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q"},
		{"-c", "user.name=CI", "-c", "user.email=ci@example.org", "commit", "-q", "--allow-empty", "-m", "x"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=@"+unix+" +0000", "GIT_AUTHOR_DATE=@"+unix+" +0000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func TestSourceDateEpoch(t *testing.T) {
	t.Parallel()
	repo := gitRepo(t, "1764115200")
	noRepo := t.TempDir()
	unix0 := Year1970
	tests := []struct {
		name, input, envVal, gitDir string
		notBefore                   time.Time
		want                        int64 // -1: the zero time
		err                         []string
	}{
		{"input first", "1764072000", "1700000000", repo, unix0, 1764072000, nil},
		{"then SOURCE_DATE_EPOCH", "", "1700000000", repo, unix0, 1700000000, nil},
		{"then the commit time", "", "", repo, unix0, 1764115200, nil},
		{"none and no git dir", "", "", "", unix0, -1, nil},
		{"zero is a time", "0", "", "", unix0, 0, nil},
		{"not a repository", "", "", noRepo, unix0, 0, []string{"no build time", "commit time of " + noRepo, "git:"}},
		{"bad input", "yesterday", "1700000000", repo, unix0, 0, []string{`input source-date-epoch: "yesterday" is not a Unix time`, "not a number"}},
		{"bad variable", "", "soon", "", unix0, 0, []string{`SOURCE_DATE_EPOCH: "soon" is not a Unix time`}},
		{"negative", "-5", "", "", unix0, 0, []string{`"-5" is before 1970-01-01`}},
		{"before 1980", "", "315532799", "", Year1980, 0, []string{`SOURCE_DATE_EPOCH: "315532799" is before 1980-01-01`}},
		{"1980 itself", "315532800", "", "", Year1980, 315532800, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := Env(env(map[string]string{"SOURCE_DATE_EPOCH": tc.envVal}))
			got, err := e.SourceDateEpoch(context.Background(), tc.input, tc.gitDir, tc.notBefore)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("= %v, want an error", got)
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == -1 {
				if !got.IsZero() {
					t.Errorf("= %v, want the zero time", got)
				}
				return
			}
			if got.Unix() != tc.want || got.Location() != time.UTC {
				t.Errorf("= %v, want %d UTC", got, tc.want)
			}
		})
	}
}
