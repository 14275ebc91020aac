package site

import (
	"strings"
	"testing"
)

func TestRenderReadmeLinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, md, repo, want string
	}{
		{"https kept", "[a](https://example.org/x)", "", `<a href="https://example.org/x">a</a>`},
		{"mailto kept", "[a](mailto:me@example.org)", "", `<a href="mailto:me@example.org">a</a>`},
		{"fragment kept", "[a](#usage)", "", `<a href="#usage">a</a>`},
		{"protocol-relative is https", "[a](//example.org/x)", "", `<a href="https://example.org/x">a</a>`},
		{"relative into the repository's docs", "[a](USAGE.md#top)", "o/r", `<a href="https://github.com/o/r/blob/HEAD/docs/USAGE.md#top">a</a>`},
		{"root-relative into the repository", "[a](/lib/x.py)", "o/r", `<a href="https://github.com/o/r/blob/HEAD/lib/x.py">a</a>`},
		{"relative image from the repository", "![d](img/a.png)", "o/r", `<img src="https://github.com/o/r/raw/HEAD/docs/img/a.png" alt="d">`},
		{"relative without repository unlinked", "[a](USAGE.md)", "", `<p>a</p>`},
		{"javascript unlinked", "[a](javascript:alert(1))", "o/r", `<p>a</p>`},
		{"upper-case javascript unlinked", "[a](JAVASCRIPT:alert(1))", "o/r", `<p>a</p>`},
		{"data unlinked", "[a](data:text/html,x)", "", `<p>a</p>`},
		{"data image unlinked", "![a](data:image/png;base64,AAAA)", "", `<p>a</p>`},
		{"mailto image unlinked", "![a](mailto:x@y)", "", `<p>a</p>`},
		{"autolink of another scheme is text", "<vbscript:msgbox(1)>", "", `<p>vbscript:msgbox(1)</p>`},
		{"raw html omitted", `<a href="https://x">x</a><script>alert(1)</script>`, "", `<!-- raw HTML omitted -->`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := RenderReadme([]byte(tc.md), tc.repo, "")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("RenderReadme(%q) = %q, want it to contain %q", tc.md, got, tc.want)
			}
			if strings.Contains(got, "<script") || strings.Contains(got, "alert(1)\"") {
				t.Errorf("RenderReadme(%q) = %q", tc.md, got)
			}
		})
	}
}

func TestRenderReadmeLimits(t *testing.T) {
	t.Parallel()
	if _, err := RenderReadme(make([]byte, MaxReadmeSize+1), "", ""); err == nil || err.Error() != "docs/README.md is larger than 512 KiB" {
		t.Errorf("oversized README: %v", err)
	}
	if _, err := RenderReadme([]byte("x"), "not a repo", ""); err == nil {
		t.Error("a bad repository was accepted")
	}
}

func TestReleaseTag(t *testing.T) {
	t.Parallel()
	tests := []struct{ url, repo, want string }{
		{"https://github.com/o/r/releases/download/v1.2.3/lib-x-v1.2.3.udos-package", "o/r", "v1.2.3"},
		{"https://github.com/o/r/releases/download/v1.2.3/lib-x-v1.2.3.udos-package", "o/other", ""},
		{"https://github.com/o/r/releases/download/v1.2.3/a/b", "o/r", ""},
		{"http://github.com/o/r/releases/download/v1.2.3/x", "o/r", ""},
		{"packages/lib-x-v1.2.3.udos-package", "o/r", ""},
		{"https://example.org/o/r/releases/download/v1/x", "o/r", ""},
	}
	for _, tc := range tests {
		if got := ReleaseTag(tc.url, tc.repo); got != tc.want {
			t.Errorf("ReleaseTag(%q, %q) = %q, want %q", tc.url, tc.repo, got, tc.want)
		}
	}
	html, err := RenderReadme([]byte("[u](USAGE.md) ![i](i.png)"), "o/r", "v1.2.3")
	if err != nil || !strings.Contains(html, `href="https://github.com/o/r/blob/v1.2.3/docs/USAGE.md"`) || !strings.Contains(html, `src="https://github.com/o/r/raw/v1.2.3/docs/i.png"`) {
		t.Errorf("links at a tag: %s %v", html, err)
	}
}
