package registry

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/ghreplica"
)

// BenchmarkGitHubRegistry measures a regeneration of 1,000 releases across
// 100 repositories against the replica (BENCHMARKS.md, "registry-gen"):
//
//   - refetch: an empty cache every time, so every listing is unconditional
//     and every package, signature and manifest is downloaded and verified;
//     this is what a generator without a cache (chart-releaser's approach)
//     pays on every run, and what this one pays on its first;
//   - nochange: the previous run's output folder as the cache;
//   - onenew: the same, with one new release in one repository.
//
// Reported per run: requests sent, answered 304, package assets downloaded.
//
// With -latency (e.g. 50ms) every replica answer is delayed that long, as a
// round trip to api.github.com from a runner would be.
func BenchmarkGitHubRegistry(b *testing.B) {
	f := newGHFixture(b, ghreplica.Config{RateLimit: 1 << 30})
	seedScale(b, f, 100, 10)
	if *benchLatency > 0 {
		f.srv.Close()
		f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			time.Sleep(*benchLatency)
			f.r.ServeHTTP(w, req)
		}))
		defer f.srv.Close()
	}
	report := func(b *testing.B, reqs, notMod, down int) {
		b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
		b.ReportMetric(float64(notMod)/float64(b.N), "304s/op")
		b.ReportMetric(float64(down)/float64(b.N), "downloads/op")
	}
	// measure runs b.N regenerations, each after an untimed prepare (a
	// fresh output folder, a new release), reports the counts per run and
	// returns the requests sent and the ones answered 304, summed.
	measure := func(b *testing.B, prepare func(), check func(ghResult)) (reqs, notMod int) {
		down := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			prepare()
			f.r.ResetLog()
			b.StartTimer()
			res, err := f.run(b, t0.Add(240*time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			check(res)
			reqs += len(f.r.Requests())
			notMod += countNotModified(f.r.Requests())
			down += res.Downloaded
		}
		report(b, reqs, notMod, down)
		return reqs, notMod
	}
	b.Run("refetch", func(b *testing.B) {
		measure(b, func() { f.out = filepath.Join(b.TempDir(), "out") }, func(res ghResult) {
			if res.Versions != 1000 {
				b.Fatalf("%d versions", res.Versions)
			}
		})
	})
	// warm gives f a fresh output folder whose cache is current: a first
	// run fills it, a second absorbs the download counts the first moved.
	warm := func(b *testing.B) {
		b.Helper()
		f.out = filepath.Join(b.TempDir(), "out")
		for i := 0; i < 2; i++ {
			if _, err := f.run(b, t0.Add(240*time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("nochange", func(b *testing.B) {
		warm(b)
		reqs, notMod := measure(b, func() {}, func(ghResult) {})
		if reqs != 101*b.N || notMod != reqs {
			b.Errorf("no-change runs: %d requests, %d answered 304, want 101 per run, all 304", reqs, notMod)
		}
	})
	published := 0 // the testing package may run a sub-benchmark more than once
	b.Run("onenew", func(b *testing.B) {
		// Each run finds one new release in one repository.
		warm(b)
		src := libSource(b, f.srcDir, "lib050", map[string]string{"@uDOS/core": ">=1.4.0"})
		measure(b, func() {
			version := fmt.Sprintf("2.%d.0", published)
			f.release(b, "scale/udos-lib050", "v"+version, t0.Add(time.Duration(1000+published)*time.Hour), libAssets(b, src, version)...)
			published++
		}, func(ghResult) {})
	})
	_ = os.RemoveAll(f.srcDir)
}

var benchLatency = flag.Duration("latency", 0, "delay every replica answer by this much (BenchmarkGitHubRegistry)")

func countNotModified(reqs []ghreplica.LoggedRequest) int {
	n := 0
	for _, q := range reqs {
		if q.NotModified {
			n++
		}
	}
	return n
}
