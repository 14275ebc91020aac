package update_test

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/coreinst/coretest"
	"github.com/fredbook/udos-dist/internal/fetch"
	"github.com/fredbook/udos-dist/internal/sonic/build"
	"github.com/fredbook/udos-dist/internal/sonic/delta"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
	"github.com/fredbook/udos-dist/internal/tarball"
	"github.com/fredbook/udos-dist/internal/testenv"
)

var epoch = time.Unix(1764115200, 0).UTC()

// BenchmarkUpdate5Percent builds two real Sonic ISOs whose uDOS core trees
// differ in 5 % of their bytes (UDOS_BENCH_TREE, default examples/udos), in
// the delta-friendly layout and in the single-stream one, and updates from
// the first to the second over loopback HTTP three ways in the same run:
// `udos-lib sonic update`'s delta, zsync (zsyncmake/zsync, Debian's), and a
// full download. It reports the bytes each sent over the wire (counted by
// the server, control files and indexes included) and the image sizes.
func BenchmarkUpdate5Percent(b *testing.B) {
	tools := isotest.Tools(b, iso.AMD64)
	zsync, zsyncmake := testenv.Tool(b, "zsync"), testenv.Tool(b, "zsyncmake")
	kernel := isotest.KernelPath(iso.AMD64)
	if _, err := os.Stat(kernel); err != nil {
		testenv.Missing(b, "test kernel "+kernel)
	}
	tree := os.Getenv("UDOS_BENCH_TREE")
	if tree == "" {
		tree = coretest.Examples()
	}
	work := b.TempDir()
	runtimeBin := filepath.Join(work, "sonic-runtime")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", runtimeBin, "github.com/fredbook/udos-dist/cmd/sonic-runtime")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building sonic-runtime: %v\n%s", err, out)
	}
	oldCore, newCore, frac := cores(b, tree, work)
	b.Logf("core tree %s: %.1f %% of its bytes changed", tree, 100*frac)
	for _, layout := range []string{"members", "single-stream"} {
		b.Run(layout, func(b *testing.B) {
			isos := map[string]string{}
			for v, core := range map[string]string{"1.4.3": oldCore, "1.4.6": newCore} {
				out := filepath.Join(work, layout, v)
				res, err := build.Build(context.Background(), build.Options{
					Version: v, Kernel: kernel, Busybox: "/bin/busybox", Runtime: runtimeBin, Core: core,
					OutputDir: out, Time: epoch, Tools: tools, TempDir: work, SingleStream: layout == "single-stream",
				})
				if err != nil {
					b.Fatal(err)
				}
				isos[v] = res.ISO
			}
			oldISO, newISO := isos["1.4.3"], isos["1.4.6"]
			fi, _ := os.Stat(newISO)
			size := fi.Size()
			dir := filepath.Dir(newISO)
			var sent atomic.Int64
			srv := httptest.NewServer(countBytes(multiRange(dir, http.FileServer(http.Dir(dir))), &sent))
			defer srv.Close()
			base := srv.URL + "/" + filepath.Base(newISO)
			for i := 0; i < b.N; i++ {
				// delta: the block index, then the missing ranges.
				sent.Store(0)
				t0 := time.Now()
				f := fetch.New(nil)
				res, err := f.Get(context.Background(), base+".bix", fetch.Validators{}, 1<<30)
				if err != nil {
					b.Fatal(err)
				}
				ix, err := delta.ParseIndex(res.Body)
				if err != nil {
					b.Fatal(err)
				}
				dest := filepath.Join(b.TempDir(), "new.iso")
				p, err := delta.MakePlan(context.Background(), ix, "", oldISO)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := delta.Apply(context.Background(), p, f, delta.Options{URL: base, Dest: dest}); err != nil {
					b.Fatal(err)
				}
				deltaBytes, deltaTime := sent.Load(), time.Since(t0)

				// zsync: the control file (made beside the ISO, outside the timing), then its ranges.
				b.StopTimer()
				zs := newISO + ".zsync"
				if out, err := exec.Command(zsyncmake, "-u", filepath.Base(newISO), "-o", zs, newISO).CombinedOutput(); err != nil {
					b.Fatalf("zsyncmake: %v\n%s", err, out)
				}
				b.StartTimer()
				sent.Store(0)
				t0 = time.Now()
				zdir := b.TempDir()
				zc := exec.Command(zsync, "-q", "-i", oldISO, "-o", filepath.Join(zdir, "new.iso"), srv.URL+"/"+filepath.Base(zs))
				zc.Dir = zdir
				if out, err := zc.CombinedOutput(); err != nil {
					b.Fatalf("zsync: %v\n%s", err, out)
				}
				zsyncBytes, zsyncTime := sent.Load(), time.Since(t0)

				// full download.
				sent.Store(0)
				t0 = time.Now()
				var sink countWriter
				if err := f.Download(context.Background(), base, &sink, 1<<34, func() error { sink = 0; return nil }); err != nil {
					b.Fatal(err)
				}
				fullBytes, fullTime := sent.Load(), time.Since(t0)

				b.ReportMetric(float64(size), "iso-bytes")
				b.ReportMetric(float64(deltaBytes), "delta-bytes")
				b.ReportMetric(float64(zsyncBytes), "zsync-bytes")
				b.ReportMetric(float64(fullBytes), "full-bytes")
				b.ReportMetric(100*float64(deltaBytes)/float64(size), "delta-%")
				b.ReportMetric(100*float64(zsyncBytes)/float64(size), "zsync-%")
				b.Logf("%s: ISO %d bytes; delta %d (%.1f %%) in %s; zsync %d (%.1f %%) in %s; full %d in %s",
					layout, size, deltaBytes, 100*float64(deltaBytes)/float64(size), deltaTime.Round(time.Millisecond),
					zsyncBytes, 100*float64(zsyncBytes)/float64(size), zsyncTime.Round(time.Millisecond), fullBytes, fullTime.Round(time.Millisecond))
			}
		})
	}
}

// multiRange answers a request for several ranges itself, with each part
// preceded by CRLF as RFC 2046 allows and a Content-Length: zsync 0.6.2
// loops on net/http's multipart answers.
func multiRange(dir string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		spec, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
		if !ok || !strings.Contains(spec, ",") {
			next.ServeHTTP(w, r)
			return
		}
		f, err := os.Open(filepath.Join(dir, filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, _ := f.Stat()
		const boundary = "UDOSBENCHBOUNDARY"
		// A length, not chunked encoding, which zsync does not read.
		var body bytes.Buffer
		for _, rg := range strings.Split(spec, ",") {
			a, z, _ := strings.Cut(strings.TrimSpace(rg), "-")
			start, _ := strconv.ParseInt(a, 10, 64)
			end, _ := strconv.ParseInt(z, 10, 64)
			if end >= fi.Size() {
				end = fi.Size() - 1
			}
			fmt.Fprintf(&body, "\r\n--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes %d-%d/%d\r\n\r\n", boundary, start, end, fi.Size())
			io.Copy(&body, io.NewSectionReader(f, start, end-start+1))
		}
		fmt.Fprintf(&body, "\r\n--%s--\r\n", boundary)
		w.Header().Set("Content-Type", "multipart/byteranges; boundary="+boundary)
		w.Header().Set("Content-Length", strconv.Itoa(body.Len()))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body.Bytes())
	})
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

func countBytes(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&countingRW{ResponseWriter: w, n: n}, r)
	})
}

type countingRW struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingRW) Write(p []byte) (int, error) {
	k, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(k))
	return k, err
}

// cores writes the tree as the 1.4.3 core tarball and, with about 5 % of
// its bytes changed (whole files, chosen by name hash), as 1.4.6's.
func cores(b *testing.B, tree, work string) (string, string, float64) {
	src := filepath.Join(work, "tree")
	if err := os.CopyFS(src, os.DirFS(tree)); err != nil {
		b.Fatal(err)
	}
	oldT := tarGz(b, src, filepath.Join(work, "core-1.4.3.tar.gz"))
	var files []string
	var total int64
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			total += fi.Size()
			files = append(files, p)
		}
		return nil
	})
	sort.Slice(files, func(i, j int) bool {
		hi, hj := fnv.New32a(), fnv.New32a()
		hi.Write([]byte(files[i]))
		hj.Write([]byte(files[j]))
		return hi.Sum32() < hj.Sum32()
	})
	var changed int64
	for _, p := range files {
		if changed >= total/20 {
			break
		}
		body, _ := os.ReadFile(p)
		if int64(len(body)) > total/40 {
			continue // one file is not the whole change
		}
		os.WriteFile(p, bytes.ToUpper(append([]byte("# changed in 1.4.6\n"), body...)), 0o644)
		changed += int64(len(body))
	}
	newT := tarGz(b, src, filepath.Join(work, "core-1.4.6.tar.gz"))
	return oldT, newT, float64(changed) / float64(total)
}

func tarGz(b *testing.B, src, out string) string {
	// The core variant carries no links; a checkout may.
	entries, err := tarball.FromDir(src, func(_ string, d fs.DirEntry) bool { return d.IsDir() || d.Type().IsRegular() })
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := tarball.Write(f, entries, tarball.Options{MTime: epoch}); err != nil {
		b.Fatal(err)
	}
	return out
}
