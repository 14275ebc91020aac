package site

// A library page shows the library's own docs/README.md, as crates.io and
// pkg.go.dev show a crate's or module's README. The Markdown is the
// publisher's, not ours: it is rendered to HTML here (goldmark, CommonMark
// with GitHub's extensions) under a strict policy, and the page's CSP (see
// _includes/head.html) is the second line of defence.
//
//   - Raw HTML, block or inline, is never passed through (goldmark's safe
//     mode writes "<!-- raw HTML omitted -->" in its place), so no <script>,
//     <iframe>, <style>, event handler or form reaches the page.
//   - Links may only go to http, https and mailto URLs, images only to http
//     and https; anything else (javascript:, data:, vbscript:, file:, …) loses
//     its link and keeps its text.
//   - Relative links point into the library's repository on GitHub (the
//     README sits in docs/, so they are resolved against docs/ there), as
//     GitHub itself renders them; without a repository they lose their link,
//     since the site does not serve the package's files.

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/fredbook/udos-dist/internal/ghrelease"
)

// ReadmeName is the file of a package the site renders on its page.
const ReadmeName = "docs/README.md"

// MaxReadmeSize bounds the README a page shows; a larger one is left out
// (with a note on the page) rather than cut in the middle of its markup.
const MaxReadmeSize = 512 << 10

// RenderReadme renders a library's README (Markdown) to HTML that is safe to
// put in a page as is. repository ("owner/name", may be empty) is where
// relative links go, at ref (a tag; "" means the default branch, HEAD).
func RenderReadme(markdown []byte, repository, ref string) (string, error) {
	if len(markdown) > MaxReadmeSize {
		return "", fmt.Errorf("%s is larger than %d KiB", ReadmeName, MaxReadmeSize>>10)
	}
	pol := linkPolicy{}
	if repository != "" {
		repo, err := ghrelease.ParseRepo(repository)
		if err != nil {
			return "", fmt.Errorf("repository of the README: %w", err)
		}
		if ref == "" {
			ref = "HEAD"
		}
		base := "/" + repo.Owner + "/" + repo.Name
		pol.links = &url.URL{Scheme: "https", Host: "github.com", Path: base + "/blob/" + ref + "/docs/"}
		pol.images = &url.URL{Scheme: "https", Host: "github.com", Path: base + "/raw/" + ref + "/docs/"}
	}
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(pol, 1000))),
		// No html.WithUnsafe: raw HTML is omitted.
	)
	var out bytes.Buffer
	if err := md.Convert(markdown, &out); err != nil {
		return "", fmt.Errorf("rendering %s: %w", ReadmeName, err)
	}
	return out.String(), nil
}

// ReleaseTag is the tag of a package URL on GitHub Releases of repository
// (https://github.com/OWNER/NAME/releases/download/TAG/FILE), or "" for any
// other URL: the README's relative links then point at the files of the
// release it came from, as pkg.go.dev links a module's version.
func ReleaseTag(packageURL, repository string) string {
	u, err := url.Parse(packageURL)
	if err != nil || u.Scheme != "https" || u.Host != "github.com" || repository == "" {
		return ""
	}
	rest, ok := strings.CutPrefix(u.Path, "/"+repository+"/releases/download/")
	if !ok {
		return ""
	}
	tag, file, ok := strings.Cut(rest, "/")
	if !ok || tag == "" || file == "" || strings.Contains(file, "/") {
		return ""
	}
	return tag
}

// linkPolicy rewrites or unlinks every link and image destination of the
// document (see the file comment).
type linkPolicy struct {
	links, images *url.URL // bases for relative destinations; nil: unlink them
}

func (p linkPolicy) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	source := reader.Source()
	var unlink []ast.Node
	var autolinks []*ast.AutoLink
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Link:
			if dest, ok := p.safe(string(n.Destination), false); ok {
				n.Destination = []byte(dest)
			} else {
				unlink = append(unlink, n)
			}
		case *ast.Image:
			if dest, ok := p.safe(string(n.Destination), true); ok {
				n.Destination = []byte(dest)
			} else {
				unlink = append(unlink, n)
			}
		case *ast.AutoLink:
			if n.AutoLinkType == ast.AutoLinkURL {
				if _, ok := p.safe(string(n.URL(source)), false); !ok || !hasScheme(string(n.URL(source))) {
					autolinks = append(autolinks, n)
				}
			}
		}
		return ast.WalkContinue, nil
	})
	// Unlinked: the children (a link's text, an image's alt text) stay.
	for _, n := range unlink {
		parent := n.Parent()
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, n, c)
			c = next
		}
		parent.RemoveChild(parent, n)
	}
	for _, n := range autolinks {
		n.Parent().ReplaceChild(n.Parent(), n, ast.NewString(n.Label(source)))
	}
}

func hasScheme(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != ""
}

// safe returns the destination to use for dest, or false when it must not
// be linked.
func (p linkPolicy) safe(dest string, image bool) (string, bool) {
	dest = strings.TrimSpace(dest)
	if dest == "" {
		return "", false
	}
	// url.Parse refuses control characters, so "java\tscript:" cannot
	// pass as a relative path.
	u, err := url.Parse(dest)
	if err != nil {
		return "", false
	}
	switch {
	case u.Scheme == "https" || u.Scheme == "http":
		return u.String(), u.Host != ""
	case u.Scheme == "mailto":
		return u.String(), !image && u.Opaque != ""
	case u.Scheme != "":
		return "", false
	case u.Host != "": // "//host/path"
		u.Scheme = "https"
		return u.String(), true
	case !image && u.Path == "" && u.Fragment != "": // "#section" of this page
		return u.String(), true
	}
	base := p.links
	if image {
		base = p.images
	}
	if base == nil {
		return "", false
	}
	if strings.HasPrefix(u.Path, "/") {
		// Root-relative on GitHub means the repository root.
		u.Path = strings.TrimPrefix(u.Path, "/")
		root := *base
		root.Path = strings.TrimSuffix(root.Path, "docs/")
		return root.ResolveReference(u).String(), true
	}
	return base.ResolveReference(u).String(), true
}
