package jsonschema

import (
	"strings"
	"testing"
)

func TestPatternAndMinItems(t *testing.T) {
	t.Parallel()
	schema := []byte(`{"type": "object", "properties": {
		"sha": {"type": "string", "pattern": "^[0-9a-f]{4}$"},
		"list": {"type": "array", "minItems": 1}}}`)
	tests := []struct{ doc, want string }{
		{`{"sha": "00ff", "list": [1]}`, ""},
		{`{"sha": "00FF"}`, `$.sha: "00FF" does not match the pattern`},
		{`{"sha": "00ff0"}`, "does not match the pattern"},
		{`{"list": []}`, "$.list: fewer than 1 items"},
	}
	for _, tc := range tests {
		err := Validate(schema, []byte(tc.doc))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", tc.doc, err, tc.want)
		}
	}
	if err := Validate([]byte(`{"pattern": "("}`), []byte(`"x"`)); err == nil {
		t.Error("a broken pattern was accepted")
	}
}
