package fetch

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestResume(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("0123456789", 100)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		held    string // what the caller holds before
		restart bool   // the caller is told to start over
		wantErr string
	}{
		{"range honoured", func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
		}, body[:300], false, ""},
		{"range ignored: whole file again", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(body))
		}, body[:300], true, ""},
		{"held more than the file: 416, then whole", func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
		}, body + "extra", true, ""},
		{"wrong range sent", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-999/1000")
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte(body))
		}, body[:300], false, "asked for bytes from 300"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			var got bytes.Buffer
			got.WriteString(tc.held)
			restarted := false
			f := New(srv.Client())
			f.Attempts = 1
			n, err := f.Resume(context.Background(), srv.URL, int64(len(tc.held)), &got, func() error {
				restarted = true
				got.Reset()
				return nil
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != body || n != int64(len(body)) || restarted != tc.restart {
				t.Fatalf("got %d bytes (n=%d), restarted=%v", got.Len(), n, restarted)
			}
		})
	}
}
