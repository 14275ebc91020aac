package build

import (
	"fmt"
	"strings"

	"github.com/fredbook/udos-dist/internal/pipe"
)

// Summary renders a build as GitHub-flavoured Markdown for the job's step
// summary: the artifacts with their sizes and digests, warnings, the steps.
func Summary(res *Result) string {
	var b strings.Builder
	name := "?"
	if res.Variant != nil {
		name = res.Variant.Name
	}
	fmt.Fprintf(&b, "### uDOS %s v%s\n\n", name, res.Version)
	artifactTable(&b, res.Artifacts)
	if len(res.Warnings) > 0 {
		b.WriteString("\n**Warnings**\n\n")
		for _, w := range res.Warnings {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	if res.Upload != nil {
		counts := map[string]int{}
		for _, a := range res.Upload.Assets {
			counts[a.Action]++
		}
		fmt.Fprintf(&b, "\nUploaded to draft release %s: %d uploaded, %d replaced, %d unchanged.\n",
			res.Upload.Tag, counts["uploaded"], counts["replaced"], counts["unchanged"])
	}
	stepTable(&b, res.Steps)
	return b.String()
}

// PublishSummary renders the release job.
func PublishSummary(res *PublishResult) string {
	var b strings.Builder
	if res.Manifest != nil {
		fmt.Fprintf(&b, "### uDOS v%s release\n\n", res.Manifest.Version)
	}
	artifactTable(&b, res.Artifacts)
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
	stepTable(&b, res.Steps)
	return b.String()
}

func artifactTable(b *strings.Builder, arts []Artifact) {
	if len(arts) == 0 {
		return
	}
	b.WriteString("| artifact | kind | size | sha256 |\n| --- | --- | ---: | --- |\n")
	for _, a := range arts {
		fmt.Fprintf(b, "| `%s` | %s | %d | `%s` |\n", a.Name, a.Kind, a.Size, a.SHA256)
	}
}

func stepTable(b *strings.Builder, steps []pipe.Result) {
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
