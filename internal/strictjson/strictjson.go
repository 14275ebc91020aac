// Package strictjson checks what encoding/json lets pass silently in a
// document from someone else: a key given twice in one object (the last
// one wins, so a reader that keeps the first sees another document), and
// nesting deep enough to cost a stack for nothing. A signed catalog or a
// manifest must mean one thing to every reader.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/fredbook/udos-dist/internal/clip"
)

// MaxDepth is the deepest nesting of objects and arrays accepted; the
// formats of udos-dist need fewer than ten levels.
const MaxDepth = 64

// ErrDuplicateKey is wrapped by every DuplicateKeyError.
var ErrDuplicateKey = errors.New("duplicate key")

// ErrTooDeep: objects and arrays nested deeper than MaxDepth.
var ErrTooDeep = errors.New("nested too deep")

// DuplicateKeyError names a key given twice in one object, by its path
// ("libraries[3].versions[0].sha256"). Earlier is the first spelling when
// it differs: encoding/json matches struct fields without regard to case,
// so "version" and "Version" fill the same field.
type DuplicateKeyError struct {
	Path    string
	Earlier string
}

func (e *DuplicateKeyError) Error() string {
	if e.Earlier != "" {
		return fmt.Sprintf("%v at %s (the same key as %s, without regard to case)", ErrDuplicateKey, e.Path, clip.Quote(e.Earlier))
	}
	return fmt.Sprintf("%v at %s", ErrDuplicateKey, e.Path)
}

func (e *DuplicateKeyError) Unwrap() error { return ErrDuplicateKey }

// CheckKeys reads the first JSON value of data and reports the first key
// that repeats within its object (exactly or in another case), as a
// *DuplicateKeyError, or nesting deeper than MaxDepth. Syntax errors are
// returned as the decoder reports them; callers that decode data anyway
// may call CheckKeys after a successful Decode.
func CheckKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return value(dec, "", 0)
}

func value(dec *json.Decoder, path string, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= MaxDepth {
		return fmt.Errorf("%w: more than %d levels at %s", ErrTooDeep, MaxDepth, orRoot(path))
	}
	switch d {
	case '{':
		seen := map[string]string{} // folded key -> key as first written
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			p := join(path, k)
			if first, dup := seen[fold(k)]; dup {
				e := &DuplicateKeyError{Path: p}
				if first != k {
					e.Earlier = first
				}
				return e
			}
			seen[fold(k)] = k
			if err := value(dec, p, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := value(dec, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// fold maps a key to one spelling per class of keys that bytes.EqualFold
// (and so encoding/json's field matching) holds equal.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		return min
	}, s)
}

// join appends key k to path: ".k" for identifier-like keys, `["k"]` for
// the rest, shortened.
func join(path, k string) string {
	ident := k != ""
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			ident = false
			break
		}
	}
	if ident && len(k) <= clip.Max {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	return path + "[" + clip.Quote(k) + "]"
}

func orRoot(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}
