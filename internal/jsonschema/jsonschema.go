// Package jsonschema validates JSON documents against the subset of JSON
// Schema that library configs use (a package's lib/config.schema.json);
// anything else that checks a document against such a schema imports it.
package jsonschema

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
)

// Validate checks a JSON document against the subset of JSON Schema
// that library configs use: type, properties, required,
// additionalProperties (boolean), items, minItems, enum, minimum, maximum,
// minLength, maxLength, pattern (Go's RE2 syntax, which the patterns in
// use share with ECMA-262). Unknown keywords are ignored, as JSON Schema prescribes. The
// error names the JSON path of the first problem.
func Validate(schema, doc []byte) error {
	var s, d any
	if err := json.Unmarshal(schema, &s); err != nil {
		return fmt.Errorf("the schema is not valid JSON: %w", err)
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	return validate(s, d, "$")
}

func validate(schema, v any, path string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return nil // true/false schemas and oddities: accept
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				if str, ok := x.(string); ok {
					types = append(types, str)
				}
			}
		}
		if len(types) > 0 && !hasType(v, types) {
			return fmt.Errorf("%s: expected %s, got %s", path, strings.Join(types, " or "), typeOf(v))
		}
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		vb, _ := json.Marshal(v)
		for _, x := range e {
			xb, _ := json.Marshal(x)
			if string(xb) == string(vb) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: %s is not one of the allowed values", path, vb)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if name, ok := r.(string); ok {
					if _, ok := v[name]; !ok {
						return fmt.Errorf("%s: missing required property %q", path, name)
					}
				}
			}
		}
		keys := slices.Sorted(maps.Keys(v))
		for _, k := range keys {
			if ps, ok := props[k]; ok {
				if err := validate(ps, v[k], path+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: property %q is not allowed", path, k)
				}
			case map[string]any:
				if err := validate(ap, v[k], path+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		if m, ok := s["minItems"].(float64); ok && float64(len(v)) < m {
			return fmt.Errorf("%s: fewer than %v items", path, m)
		}
		if items, ok := s["items"]; ok {
			for i, x := range v {
				if err := validate(items, x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case float64:
		if m, ok := s["minimum"].(float64); ok && v < m {
			return fmt.Errorf("%s: %v is less than the minimum %v", path, v, m)
		}
		if m, ok := s["maximum"].(float64); ok && v > m {
			return fmt.Errorf("%s: %v is more than the maximum %v", path, v, m)
		}
	case string:
		n := float64(len([]rune(v)))
		if m, ok := s["minLength"].(float64); ok && n < m {
			return fmt.Errorf("%s: shorter than %v characters", path, m)
		}
		if m, ok := s["maxLength"].(float64); ok && n > m {
			return fmt.Errorf("%s: longer than %v characters", path, m)
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("%s: the schema's pattern %q: %w", path, p, err)
			}
			if !re.MatchString(v) {
				return fmt.Errorf("%s: %q does not match the pattern %s", path, v, p)
			}
		}
	}
	return nil
}

func hasType(v any, types []string) bool {
	got := typeOf(v)
	for _, t := range types {
		if t == got || (t == "number" && got == "integer") {
			return true
		}
	}
	return false
}

func typeOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if v == math.Trunc(v) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}
