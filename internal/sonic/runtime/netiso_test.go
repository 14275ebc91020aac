package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFetchISO(t *testing.T) {
	t.Parallel()
	body := []byte("an ISO's bytes")
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sonic.iso" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	noRun := func(context.Context, string, ...string) ([]byte, error) {
		t.Fatal("nothing to run for http")
		return nil, nil
	}
	tests := []struct {
		name, url, want, err string
	}{
		{"verified", srv.URL + "/sonic.iso", good, ""},
		{"wrong digest", srv.URL + "/sonic.iso", strings.Repeat("0", 64), "not installing it"},
		{"missing", srv.URL + "/other.iso", good, "HTTP 404"},
		{"scheme", "ftp://x/y", good, "only tftp and http(s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "medium.iso")
			err := FetchISO(context.Background(), tc.url, tc.want, dst, noRun, srv.Client(), nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if _, serr := os.Stat(dst); serr == nil {
					t.Fatal("an unverified ISO was left at the destination")
				}
				if _, serr := os.Stat(dst + ".part"); serr == nil {
					t.Fatal("the partial download was left behind")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(dst); string(b) != string(body) {
				t.Fatalf("got %q", b)
			}
		})
	}
}

func TestFetchISOByTFTP(t *testing.T) {
	t.Parallel()
	body := []byte("tftp bytes")
	sum := sha256.Sum256(body)
	var got []string
	run := func(_ context.Context, name string, args ...string) ([]byte, error) {
		got = append([]string{name}, args...)
		// busybox tftp -g ... -l LOCAL: write what the server would send.
		for i, a := range args {
			if a == "-l" {
				return nil, os.WriteFile(args[i+1], body, 0o644)
			}
		}
		return nil, nil
	}
	dst := filepath.Join(t.TempDir(), "medium.iso")
	if err := FetchISO(context.Background(), "tftp://10.0.2.2/udos-sonic-v1.4.6.iso", hex.EncodeToString(sum[:]), dst, run, nil, func(int64) {}); err != nil {
		t.Fatal(err)
	}
	want := "busybox tftp -g -b 1468 -r udos-sonic-v1.4.6.iso -l " + dst + ".part 10.0.2.2:69"
	if strings.Join(got, " ") != want {
		t.Fatalf("ran %q, want %q", strings.Join(got, " "), want)
	}
}
