// Package site embeds the Jekyll template of the library registry site, so
// that registry-gen carries it inside its binary and needs no checkout of
// this repository at run time. Jekyll ignores this file (_config.yml
// excludes *.go).
package site

import "embed"

// Template holds the template files at their paths relative to site/.
//
//go:embed _config.yml index.html _layouts _includes assets
var Template embed.FS
