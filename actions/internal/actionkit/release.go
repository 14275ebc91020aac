package actionkit

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/sourcedate"
)

// Tag is the name of the pushed tag ("v1.4.6"), or "" when the run is not
// for a tag. GITHUB_REF (refs/tags/…) is authoritative; GITHUB_REF_NAME
// counts only with GITHUB_REF_TYPE=tag, since it also names branches.
func (e Env) Tag() string {
	if ref := e("GITHUB_REF"); ref != "" {
		tag, ok := strings.CutPrefix(ref, "refs/tags/")
		if !ok {
			return ""
		}
		return tag
	}
	if e("GITHUB_REF_TYPE") == "tag" {
		return e("GITHUB_REF_NAME")
	}
	return ""
}

// TagVersion is the version the pushed tag names ("1.4.6" for v1.4.6 or
// 1.4.6), or "" when there is no tag or it is not a version tag (release-x).
func (e Env) TagVersion() string {
	v := strings.TrimPrefix(e.Tag(), "v")
	if v == "" || v[0] < '0' || v[0] > '9' {
		return ""
	}
	return v
}

// Version is the version input without its leading "v", else the version
// of the pushed tag; "" when neither gives one.
func (e Env) Version(input string) string {
	if v := strings.TrimPrefix(strings.TrimSpace(input), "v"); v != "" {
		return v
	}
	return e.TagVersion()
}

// TagOf is the pushed tag when it is the tag of version (v1.4.6 or 1.4.6
// for 1.4.6), or any pushed tag when version is ""; else "", and the caller
// names the tag itself: an explicit version that differs from the pushed
// tag wins.
func (e Env) TagOf(version string) string {
	tag := e.Tag()
	if version == "" || strings.TrimPrefix(version, "v") == strings.TrimPrefix(tag, "v") {
		return tag
	}
	return ""
}

// Year1970 is the Unix epoch: the floor for outputs that can store any
// Unix time (tar).
var Year1970 = time.Unix(0, 0).UTC()

// Year1980 is the earliest time FAT and zip can store: the floor for
// outputs that hold FAT images (the Sonic ISO's EFI partition).
var Year1980 = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// SourceDateEpoch is the time every file of a reproducible output carries:
// the input value (the action's source-date-epoch), else SOURCE_DATE_EPOCH,
// else the commit time of HEAD in gitDir. With none of them (no input, no
// variable, gitDir "") it is the zero time and no error: the caller decides
// whether that is an error. Times before notBefore are refused.
func (e Env) SourceDateEpoch(ctx context.Context, input, gitDir string, notBefore time.Time) (time.Time, error) {
	from, v := "input source-date-epoch", strings.TrimSpace(input)
	if v == "" {
		from, v = sourcedate.Name, strings.TrimSpace(e(sourcedate.Name))
	}
	if v == "" {
		if gitDir == "" {
			return time.Time{}, nil
		}
		out, err := exec.CommandContext(ctx, "git", "-C", gitDir, "log", "-1", "--format=%ct").Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("no build time: source-date-epoch and SOURCE_DATE_EPOCH are not set and the commit time of %s could not be read (git: %v)", gitDir, err)
		}
		from, v = "the commit time of "+gitDir, strings.TrimSpace(string(out))
	}
	t, err := sourcedate.Parse(v)
	if err != nil {
		if _, numErr := strconv.ParseInt(v, 10, 64); numErr == nil && strings.HasPrefix(v, "-") {
			// A negative count of seconds is a time before 1970: say so
			// as for any time too early for the output.
			return time.Time{}, fmt.Errorf("%s: %q is before %s, the earliest time this output can hold", from, v, notBefore.UTC().Format(time.DateOnly))
		}
		return time.Time{}, fmt.Errorf("%s: %q is not a Unix time (not a number of seconds since 1970)", from, v)
	}
	if t.Before(notBefore) {
		return time.Time{}, fmt.Errorf("%s: %q is before %s, the earliest time this output can hold", from, v, notBefore.UTC().Format(time.DateOnly))
	}
	return t, nil
}
