// Command genkey prints a fresh, unprotected armored signing key for the
// benchmark (never for a release).
package main

import (
	"fmt"
	"os"

	"github.com/fredbook/udos-dist/internal/pgpsign"
)

func main() {
	priv, _, err := pgpsign.GenerateTestKey("uDOS Benchmark", "bench@example.org", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genkey:", err)
		os.Exit(1)
	}
	os.Stdout.Write(priv)
}
