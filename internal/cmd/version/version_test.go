package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuild(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"none", nil, "(unknown)"},
		{"release", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}}},
			"1.2.0 (commit 0123456789ab, built 2026-12-01T10:00:00Z, go1.26.8)"},
		{"dirty devel", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}},
			"(devel) (commit abc, modified, go1.26.8)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromBuild(tc.bi).String(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStampedVersionWins(t *testing.T) {
	defer func(old string) { stamped = old }(stamped)
	stamped = "v0.9.0"
	dev := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got := FromBuild(dev).Version; got != "0.9.0" {
		t.Fatalf("a stamped (devel) build says %q, want 0.9.0", got)
	}
	// A clean checkout: Go stamps a pseudo-version from the commit; the
	// release stamp must still win (CI builds releases from clean checkouts).
	pseudo := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261201170043-81bc436d176b"}}
	if got := FromBuild(pseudo).Version; got != "0.9.0" {
		t.Fatalf("a stamped build from a clean checkout says %q, want 0.9.0", got)
	}
	stamped = ""
	rel := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}
	if got := FromBuild(rel).Version; got != "1.2.0" {
		t.Fatalf("an unstamped `go install …@v1.2.0` build says %q, want 1.2.0", got)
	}
}
