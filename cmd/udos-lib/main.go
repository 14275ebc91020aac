// Command udos-lib installs, updates and manages uDOS libraries from a
// signed catalog. See docs/LIBRARY-MANAGEMENT.md.
package main

import (
	"os"

	"github.com/fredbook/udos-dist/internal/cmd/root"
	"github.com/fredbook/udos-dist/internal/store"
)

func main() { os.Exit(run(nil)) }

// run runs udos-lib on the process's arguments. hook is called at the named
// points of a transaction; the shipped binary passes nil, the test binary
// (TestMain) a hook that pauses there so a test can kill the process.
func run(hook store.Hook) int {
	return root.Main(os.Args[1:], os.Getenv("UDOS_LIB_FORCE_TTY"), hook)
}
