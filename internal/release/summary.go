package release

import (
	"fmt"
	"strings"

	"github.com/fredbook/udos-dist/internal/artifact"
	"github.com/fredbook/udos-dist/internal/pipe"
)

// PublishSummary renders the release job as GitHub-flavoured Markdown for
// the job's step summary.
func PublishSummary(res *PublishResult) string {
	var b strings.Builder
	if res.Manifest != nil {
		fmt.Fprintf(&b, "### uDOS v%s release\n\n", res.Manifest.Version)
	}
	ArtifactTable(&b, res.Artifacts)
	if res.Release != nil {
		state := "left as it was (already published)"
		if res.Release.Published {
			state = "published"
		}
		fmt.Fprintf(&b, "\nRelease %s %s: %s\n", res.Release.Tag, state, res.Release.HTMLURL)
	}
	if res.Notes != "" {
		b.WriteString("\n<details><summary>Release notes</summary>\n\n" + res.Notes + "\n</details>\n")
	}
	StepTable(&b, res.Steps)
	return b.String()
}

// ArtifactTable renders artifacts as a Markdown table: name, type, size,
// sha256.
func ArtifactTable(b *strings.Builder, arts []*artifact.Artifact) {
	if len(arts) == 0 {
		return
	}
	b.WriteString("| artifact | kind | size | sha256 |\n| --- | --- | ---: | --- |\n")
	for _, a := range arts {
		fmt.Fprintf(b, "| `%s` | %s | %d | `%s` |\n", a.Name, a.Type, a.Size, a.SHA256)
	}
}

// StepTable renders pipeline steps as a Markdown table: step, result
// (with the reason of a skip or failure), time.
func StepTable(b *strings.Builder, steps []pipe.Result) {
	if len(steps) == 0 {
		return
	}
	b.WriteString("\n| step | result | time |\n| --- | --- | ---: |\n")
	for _, s := range steps {
		r := string(s.Status)
		if s.Reason != "" {
			r += ": " + strings.ReplaceAll(s.Reason, "|", "\\|")
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", s.Step, r, s.Duration.Round(1e6))
	}
}
