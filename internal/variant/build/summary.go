package build

import (
	"fmt"
	"strings"

	"github.com/fredbook/udos-dist/internal/release"
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
	release.ArtifactTable(&b, res.Artifacts)
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
	release.StepTable(&b, res.Steps)
	return b.String()
}
