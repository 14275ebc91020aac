// Package docs embeds the user guides a uDOS release variant ships when the
// uDOS repository has none of its own (wizard-full's DOCKER-OPERATIONS.md
// and LIBRARY-MANAGEMENT.md), so that build-variant carries them inside its
// binary.
package docs

import "embed"

// Guides holds DOCKER-OPERATIONS.md and LIBRARY-MANAGEMENT.md.
//
//go:embed DOCKER-OPERATIONS.md LIBRARY-MANAGEMENT.md
var Guides embed.FS
