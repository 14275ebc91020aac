// Package canonjson is the one encoder of the JSON files udos-dist writes:
// keys sorted (struct fields too), two-space indentation, no HTML escaping
// (">=" stays readable), numbers exact, a final newline. Equal values give
// equal bytes, which is what reproducible archives and signed files need.
package canonjson

import (
	"bytes"
	"encoding/json"
)

// Marshal encodes v in the canonical form.
func Marshal(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Reformat(raw)
}

// Reformat re-encodes a JSON document in the canonical form. A round trip
// through generic values sorts struct fields, which encoding/json keeps in
// declaration order; UseNumber keeps large integers and decimals exact.
func Reformat(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(generic); err != nil { // maps encode with sorted keys
		return nil, err
	}
	return buf.Bytes(), nil
}

// Compact encodes v on one line without HTML escaping and without the
// trailing newline: the form of API bodies and of strings quoted into other
// formats (YAML double-quoted scalars are a superset of JSON strings).
func Compact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
