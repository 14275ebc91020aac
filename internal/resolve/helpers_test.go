package resolve

import (
	"strings"

	"github.com/fredbook/udos-dist/internal/constraint"
)

func parseForTest(text string) (*constraint.Constraint, error) {
	if strings.TrimSpace(text) == "" {
		text = "*"
	}
	return constraint.Parse(text)
}
