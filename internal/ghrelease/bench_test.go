package ghrelease

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/ghreplica"
)

func benchReplica(b *testing.B, releases int) (*ghreplica.Replica, *httptest.Server) {
	b.Helper()
	r := ghreplica.New(ghreplica.Config{RateLimit: 1 << 30, ContentCreationPerMinute: -1})
	r.AddToken(testToken, ghreplica.Token{Login: "bench", Push: []string{"*"}})
	if err := r.AddRepo("fredbook", "uDOS", ghreplica.RepoSpec{}); err != nil {
		b.Fatal(err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range releases {
		if _, err := r.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: fmt.Sprintf("v0.%d.0", i), CreatedAt: base.Add(time.Duration(i) * time.Minute),
			Assets: []ghreplica.AssetSpec{{Name: "lib.udos-package", Data: []byte("x")}, {Name: "lib.udos-package.asc", Data: []byte("y")}}}); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(r)
	b.Cleanup(srv.Close)
	return r, srv
}

// BenchmarkListReleases lists 250 releases (3 pages), without and with a
// warm ETag cache; it reports requests and 304s per listing.
func BenchmarkListReleases(b *testing.B) {
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("etag=%v", cached), func(b *testing.B) {
			r, srv := benchReplica(b, 250)
			cfg := Config{APIURL: srv.URL, Token: testToken, HTTPClient: srv.Client()}
			if cached {
				cfg.ETags = NewMemoryETagStore()
			}
			c, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if cached {
				if _, err := c.ListReleases(context.Background(), "fredbook", "uDOS"); err != nil {
					b.Fatal(err)
				}
			}
			r.ResetLog()
			before := c.Stats()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.ListReleases(context.Background(), "fredbook", "uDOS"); err != nil {
					b.Fatal(err)
				}
			}
			s := c.Stats()
			b.ReportMetric(float64(s.Requests-before.Requests)/float64(b.N), "requests/op")
			b.ReportMetric(float64(s.NotModified-before.NotModified)/float64(b.N), "304s/op")
		})
	}
}

// BenchmarkPublishRerun measures the common re-run of an already complete
// release: 3 assets of 1 MiB checked by digest, nothing uploaded.
func BenchmarkPublishRerun(b *testing.B) {
	_, srv := benchReplica(b, 0)
	c, err := New(Config{APIURL: srv.URL, Token: testToken, HTTPClient: srv.Client()})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var assets []AssetFile
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("variant-%d.tar.gz", i))
		if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprint(i), 1<<20)), 0o644); err != nil {
			b.Fatal(err)
		}
		assets = append(assets, AssetFile{Path: p})
	}
	req := PublishRequest{Owner: "fredbook", Repo: "uDOS", Tag: "v1.4.6", Assets: assets}
	if _, err := c.Publish(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	before := c.Stats()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Publish(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.Stats().Requests-before.Requests)/float64(b.N), "requests/op")
}
