package ghreplica

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/goldentest"
)

// TestGoldenDocuments pins the replica's JSON documents (field names, order,
// nulls) so that a change in shape is a visible diff.
func TestGoldenDocuments(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	rel, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.4.6", Name: "uDOS v1.4.6", Body: "Notes",
		Assets: []AssetSpec{{Name: "core-slim-v1.4.6.tar.gz", Label: "Core (slim)", ContentType: "application/gzip", Data: []byte("core")}}})
	if err != nil {
		t.Fatal(err)
	}
	draft := f.do(t, "POST", "/repos/fredbook/uDOS/releases", pushToken, []byte(`{"tag_name":"v1.5.0","draft":true}`))
	var d struct{ ID int64 }
	_ = json.Unmarshal(draft.body, &d)
	cases := []struct{ name, path, token string }{
		{"release", fmt.Sprintf("/repos/fredbook/uDOS/releases/%d", rel.ID), ""},
		{"release-ghes", fmt.Sprintf("/api/v3/repos/fredbook/uDOS/releases/%d", rel.ID), ""},
		{"draft", fmt.Sprintf("/repos/fredbook/uDOS/releases/%d", d.ID), pushToken},
		{"repository", "/repos/fredbook/uDOS", ""},
		{"not-found", "/repos/fredbook/nope", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, "GET", tc.path, tc.token, nil)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, res.body, "", "  "); err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(pretty.String(), f.srv.URL, "http://replica.test")
			// Draft URLs carry a random untagged-<hex> slug, as on GitHub.
			if i := strings.Index(got, "untagged-"); i >= 0 {
				got = got[:i] + "untagged-XXXXXXXXXXXXXXXXXXXX" + got[i+len("untagged-")+20:]
			}
			got = fmt.Sprintf("HTTP %d\n%s\n", res.status, got)
			goldentest.Compare(t, filepath.Join("testdata", tc.name+".golden"), []byte(got))
		})
	}
}
