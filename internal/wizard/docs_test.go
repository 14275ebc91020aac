package wizard

import (
	"os"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/compose"
)

// TestDocsListEveryCheckAndPattern keeps docs/DOCKER-OPERATIONS.md's
// tables current with the checks and recovery patterns.
func TestDocsListEveryCheckAndPattern(t *testing.T) {
	b, err := os.ReadFile("../../docs/DOCKER-OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, c := range compose.Checks {
		if !strings.Contains(doc, "| "+c.CIS+" | `"+c.ID+"` |") {
			t.Errorf("docs/DOCKER-OPERATIONS.md lacks check %s (CIS %s)", c.ID, c.CIS)
		}
	}
	for _, p := range Patterns {
		if !strings.Contains(doc, "| `"+p.ID+"` |") {
			t.Errorf("docs/DOCKER-OPERATIONS.md lacks recovery pattern %s", p.ID)
		}
	}
}
