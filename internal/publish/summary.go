package publish

import (
	"fmt"
	"strings"

	"github.com/fredbook/udos-dist/internal/pipe"
)

// Summary renders the publication as Markdown for a GitHub step summary.
func (r *Result) Summary() string {
	var b strings.Builder
	title := r.Package
	if title == "" {
		title = "library"
	}
	fmt.Fprintf(&b, "### Published %s\n\n", title)
	if r.ID != "" {
		fmt.Fprintf(&b, "| | |\n|---|---|\n")
		fmt.Fprintf(&b, "| library | `%s` %s |\n", r.ID, r.Version)
		fmt.Fprintf(&b, "| tag | `%s` |\n", r.Tag)
		if r.SHA256 != "" {
			fmt.Fprintf(&b, "| size | %d bytes |\n", r.Size)
			fmt.Fprintf(&b, "| sha256 | `%s` |\n", r.SHA256)
		}
		if r.Fingerprint != "" {
			fmt.Fprintf(&b, "| signed by | `%s` |\n", r.Fingerprint)
		}
		if r.Release.URL != "" {
			fmt.Fprintf(&b, "| release | %s |\n", r.Release.URL)
		}
		if len(r.Release.Uploaded) > 0 {
			fmt.Fprintf(&b, "| uploaded | %s |\n", strings.Join(r.Release.Uploaded, ", "))
		}
		if len(r.Release.Kept) > 0 {
			fmt.Fprintf(&b, "| already there (same digest) | %s |\n", strings.Join(r.Release.Kept, ", "))
		}
		if r.Dispatched {
			fmt.Fprintf(&b, "| registry notified | yes |\n")
		}
		b.WriteString("\n")
	}
	if len(r.Steps) > 0 {
		b.WriteString("| step | result | time |\n|---|---|---|\n")
		for _, s := range r.Steps {
			status := string(s.Status)
			if s.Status != pipe.StatusOK && s.Reason != "" {
				status += ": " + strings.ReplaceAll(s.Reason, "|", "\\|")
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", s.Step, status, s.Duration.Round(1e6))
		}
	}
	return b.String()
}
