package resolve

import (
	"regexp"
	"strings"

	"github.com/fredbook/udos-dist/internal/constraint"
)

func parseForTest(text string) (*constraint.Constraint, error) {
	if strings.TrimSpace(text) == "" {
		text = "*"
	}
	return constraint.Parse(text)
}

// fileName turns a test case's name into a file name.
func fileName(name string) string {
	return strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(name), "-"), "-")
}
