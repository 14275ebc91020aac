// Command udos-lib installs, updates and manages uDOS libraries from a
// signed catalog. See docs/LIBRARY-MANAGEMENT.md.
package main

import (
	"os"

	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/cmd/root"
	"github.com/fredbook/udos-dist/internal/iostreams"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, cancel := root.Context()
	defer cancel()
	f := factory.New(iostreams.System(os.Getenv("UDOS_LIB_FORCE_TTY")))
	f.Ctx = ctx
	return root.Run(f, os.Args[1:])
}
