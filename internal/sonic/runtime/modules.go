package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// LoadModules loads every module listed (one absolute path a line, in
// dependency order, as written by the initramfs builder) with load. A
// missing list means a kernel with everything built in. Modules that fail
// (no such hardware, already loaded) do not stop the others.
func LoadModules(fsys fs.FS, list string, load func(path string) error) (loaded int, errs []error) {
	b, err := fs.ReadFile(fsys, strings.TrimPrefix(list, "/"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, []error{fmt.Errorf("reading module list %q: %w", list, err)}
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := load(line); err != nil {
			errs = append(errs, fmt.Errorf("loading %q: %w", line, err))
			continue
		}
		loaded++
	}
	return loaded, errs
}
