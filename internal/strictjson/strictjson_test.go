package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheckKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, want string // want "" = accepted
		wantErr         error
	}{
		{"flat", `{"a":1,"b":2}`, "", nil},
		{"same key in sibling objects", `{"a":{"x":1},"b":{"x":2}}`, "", nil},
		{"same key in array elements", `[{"x":1},{"x":2}]`, "", nil},
		{"scalar", `"x"`, "", nil},
		{"top level", `{"serial":1,"serial":9}`, "duplicate key at serial", ErrDuplicateKey},
		{"deep", `{"libraries":[{"id":"a"},{"id":"b","versions":[{"sha256":"1","url":"u","sha256":"2"}]}]}`,
			"duplicate key at libraries[1].versions[0].sha256", ErrDuplicateKey},
		{"map key with a dash", `{"dependencies":{"lib-a":"^1","lib-a":"^2"}}`, `duplicate key at dependencies["lib-a"]`, ErrDuplicateKey},
		{"case only", `{"version":"1.0.0","Version":"9.9.9"}`, `duplicate key at Version (the same key as "version", without regard to case)`, ErrDuplicateKey},
		{"kelvin sign folds like encoding/json", "{\"k\":1,\"\u212a\":2}", "duplicate key at", ErrDuplicateKey},
		{"long key shortened", `{"` + strings.Repeat("k", 5000) + `":1,"` + strings.Repeat("k", 5000) + `":2}`, "…", ErrDuplicateKey},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "more than 64 levels", ErrTooDeep},
		{"deep enough", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckKeys([]byte(tt.doc))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("CheckKeys: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckKeys = %v, want %v mentioning %q", err, tt.wantErr, tt.want)
			}
			if len(err.Error()) > 300 {
				t.Errorf("a %d-byte error", len(err.Error()))
			}
		})
	}
	// The case rule is encoding/json's: it fills one field from both.
	var v struct{ Version string }
	if err := json.Unmarshal([]byte(`{"version":"1.0.0","Version":"9.9.9"}`), &v); err != nil || v.Version != "9.9.9" {
		t.Errorf("encoding/json no longer folds keys onto one field: %+v %v", v, err)
	}
}

func TestCheckKeysSyntax(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{``, `{`, `{"a":}`, `[1,`} {
		if err := CheckKeys([]byte(doc)); err == nil || errors.Is(err, ErrDuplicateKey) {
			t.Errorf("CheckKeys(%q) = %v, want a syntax error", doc, err)
		}
	}
}

func FuzzCheckKeys(f *testing.F) {
	f.Add([]byte(`{"a":[{"b":1,"b":2}]}`))
	f.Add([]byte(`{"a":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckKeys(data)
		var de *DuplicateKeyError
		if errors.As(err, &de) && de.Path == "" {
			t.Fatalf("a duplicate key without a path: %v", err)
		}
		if err != nil {
			return
		}
		// CheckKeys accepts nothing that encoding/json refuses.
		var generic any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // "1e700" is JSON; only float64 cannot hold it
		if derr := dec.Decode(&generic); derr != nil {
			t.Fatalf("CheckKeys accepted what encoding/json refuses: %v", derr)
		}
	})
}
