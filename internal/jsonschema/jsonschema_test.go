package jsonschema

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	schema := `{"type":"object","additionalProperties":false,"required":["name"],
	 "properties":{"name":{"type":"string","minLength":1,"maxLength":5},
	   "n":{"type":"integer","minimum":0,"maximum":3},
	   "mode":{"enum":["a","b"]},
	   "list":{"type":"array","items":{"type":"number"}}}}`
	tests := []struct {
		name, doc, err string
	}{
		{"valid", `{"name":"x","n":2,"mode":"a","list":[1,2.5]}`, ""},
		{"missing required", `{}`, `missing required property "name"`},
		{"extra property", `{"name":"x","y":1}`, `property "y" is not allowed`},
		{"wrong type", `{"name":3}`, "$.name: expected string, got integer"},
		{"too long", `{"name":"abcdef"}`, "longer than 5"},
		{"below minimum", `{"name":"x","n":-1}`, "less than the minimum"},
		{"not integer", `{"name":"x","n":1.5}`, "expected integer, got number"},
		{"enum", `{"name":"x","mode":"c"}`, "not one of the allowed values"},
		{"array item", `{"name":"x","list":[1,"2"]}`, "$.list[1]: expected number"},
		{"not json", `{`, "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate([]byte(schema), []byte(tc.doc))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}
