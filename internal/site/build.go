package site

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Build runs Jekyll on a site written by Write, as GitHub Pages would:
// `jekyll build -s src -d dst --baseurl baseURL`. jekyll is the program to
// run (a path or a name looked up on PATH). Jekyll's output is returned in
// the error when it fails.
func Build(ctx context.Context, jekyll, src, dst, baseURL string) error {
	if jekyll == "" {
		jekyll = "jekyll"
	}
	bin, err := exec.LookPath(jekyll)
	if err != nil {
		return fmt.Errorf("finding jekyll: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, "build", "--quiet", "-s", src, "-d", dst, "--baseurl", baseURL)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("jekyll build of %q: %w: %s", src, err, strings.TrimSpace(out.String()))
	}
	return nil
}
