// Package docs holds the user guides (the Markdown files in this folder).
// It has no code: its test runs every shell block of the guides and of the
// repository's README against the demo registry (docs_test.go).
package docs
