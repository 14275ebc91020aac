package ghreplica_test

import (
	"testing"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/ghreplica"
)

// GitHub renames an uploaded asset: characters outside letters, digits and
// "._-+" become ".", and leading or trailing dots go. ghrelease predicts the
// name before uploading; the replica has its own implementation, so both are
// held to the same table here.
func TestNormalizeAssetName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"udos-core-slim-v1.5.0.tar.gz", "udos-core-slim-v1.5.0.tar.gz"},
		{"lib grid math 1.0.udos-package", "lib.grid.math.1.0.udos-package"},
		{"sonic_v1+build.iso", "sonic_v1+build.iso"},
		{".hidden.asc", "hidden.asc"},
		{"trailing..", "trailing"},
		{"ünïcode.txt", "n.code.txt"},
		{"a/b\\c:d", "a.b.c.d"},
		{"\xffbad", "bad"},
		{"x\xffy", "x.y"},
	} {
		if got := ghreplica.NormalizeAssetName(tc.in); got != tc.want {
			t.Errorf("replica: NormalizeAssetName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := ghrelease.NormalizeAssetName(tc.in); got != tc.want {
			t.Errorf("ghrelease: NormalizeAssetName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
