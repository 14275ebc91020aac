// Package version implements `udos-lib version` (and the root's --version):
// the release version, commit and build date, read from the build info the
// Go toolchain embeds, so that a `go install` binary and a release binary
// both say exactly what they are without a stamping step.
package version

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
)

// stamped is the release version a release build sets with
// -ldflags "-X github.com/fredbook/udos-dist/internal/cmd/version.stamped=1.2.0"
// (internal/selfrelease does). When set it wins over the module version:
// only a release build passes it, and a build from a git checkout has a
// module version of its own that is not the release's — "(devel)", or since
// Go 1.24 a pseudo-version from the commit (v0.0.0-20261201170043-81bc436d176b).
// A `go install …@v1.2.0` binary has no stamp and says its module version.
var stamped string

// Info is what a build says about itself (the --json output).
type Info struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Date     string `json:"date,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// FromBuild reads Info from the build info (nil: none was embedded).
func FromBuild(bi *debug.BuildInfo) Info {
	in := Info{Version: "(unknown)"}
	if bi == nil {
		if stamped != "" {
			in.Version = strings.TrimPrefix(stamped, "v")
		}
		return in
	}
	in.Go = bi.GoVersion
	if v := bi.Main.Version; v != "" {
		in.Version = strings.TrimPrefix(v, "v")
	}
	if stamped != "" {
		in.Version = strings.TrimPrefix(stamped, "v")
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.time":
			in.Date = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one-line form: "1.2.0 (commit 0123abc, built 2026-12-01T10:00:00Z)".
func (in Info) String() string {
	var extra []string
	if in.Commit != "" {
		c := in.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if in.Modified {
			c += ", modified"
		}
		extra = append(extra, "commit "+c)
	}
	if in.Date != "" {
		extra = append(extra, "built "+in.Date)
	}
	if in.Go != "" {
		extra = append(extra, in.Go)
	}
	if len(extra) == 0 {
		return in.Version
	}
	return fmt.Sprintf("%s (%s)", in.Version, strings.Join(extra, ", "))
}

// Current is the running binary's Info.
func Current() Info {
	bi, _ := debug.ReadBuildInfo()
	return FromBuild(bi)
}

// NewCmd builds `udos-lib version`.
func NewCmd(f *factory.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Show udos-lib's version, commit and build date",
		Example: "  udos-lib version\n  udos-lib version --json",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in := Current()
			if f.Global.JSON {
				return cmdutil.WriteJSON(f.IO.Out, in)
			}
			_, err := fmt.Fprintf(f.IO.Out, "udos-lib %s\n", in)
			return err
		},
	}
}
