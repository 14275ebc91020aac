package ghrelease_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/ghreplica"
)

// Publishing a library version: the same call serves a first run and any
// re-run after an interruption.
func ExampleClient_Publish() {
	replica := ghreplica.New(ghreplica.Config{})
	replica.AddToken("t0ken", ghreplica.Token{Login: "github-actions", Push: []string{"uDOS/*"}})
	_ = replica.AddRepo("uDOS", "grid-extensions", ghreplica.RepoSpec{})
	srv := httptest.NewServer(replica)
	defer srv.Close()

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	pkg := filepath.Join(dir, "lib-grid-extensions-v1.2.0.udos-package")
	_ = os.WriteFile(pkg, []byte("package bytes"), 0o644)

	env := map[string]string{"GITHUB_API_URL": srv.URL, "GITHUB_TOKEN": "t0ken"}
	cfg := ghrelease.ConfigFromEnv(func(k string) string { return env[k] })
	c, err := ghrelease.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	req := ghrelease.PublishRequest{
		Owner: "uDOS", Repo: "grid-extensions", Tag: "v1.2.0", Name: "grid-extensions 1.2.0",
		Assets: []ghrelease.AssetFile{{Path: pkg, ContentType: "application/gzip"}},
	}
	for range 2 {
		res, err := c.Publish(context.Background(), req)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(res.Tag, "published by this run:", res.Published, "asset:", res.Assets[0].Name, res.Assets[0].Action)
	}
	// Output:
	// v1.2.0 published by this run: true asset: lib-grid-extensions-v1.2.0.udos-package uploaded
	// v1.2.0 published by this run: false asset: lib-grid-extensions-v1.2.0.udos-package unchanged
}
