package udospkg

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/fredbook/udos-dist/internal/tarball"
)

// ErrFileTooLarge: File found the entry but it is larger than the limit.
var ErrFileTooLarge = errors.New("package file too large")

// File returns the contents of the regular file name (a slash path such as
// "docs/README.md") in the package, or nil and no error when the package
// has no such file. A file larger than limit bytes is an ErrFileTooLarge.
// Call it after Verify: it trusts the archive's structure.
func (p *Package) File(name string, limit int64) ([]byte, error) {
	var out []byte
	err := tarball.Walk(bytes.NewReader(p.raw), p.Limits, func(h tarball.Header, contents io.Reader) error {
		if h.IsDir || h.Name != name {
			return nil
		}
		if h.Size > limit {
			return fmt.Errorf("%w: %s is %d bytes, more than %d", ErrFileTooLarge, name, h.Size, limit)
		}
		data, err := io.ReadAll(io.LimitReader(contents, limit+1))
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		out = data
		return tarball.SkipRest
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
