// Package assetname is the one place where udos-dist spells the names of
// the files it publishes: library packages and their manifests, signatures,
// checksum lists and release manifests. Producers and readers (the release
// pipeline, the registry assembler, the client) build and parse names here
// so a rename cannot leave one side behind.
package assetname

import (
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

const (
	// PackageExt ends every library package file name.
	PackageExt = ".udos-package"
	// SignatureExt ends every detached ASCII-armored OpenPGP signature.
	SignatureExt = ".asc"
	// SHA256Sums and SHA512Sums are the release's checksum lists, in the
	// format of coreutils' sha256sum/sha512sum.
	SHA256Sums  = "SHA256SUMS"
	SHA512Sums  = "SHA512SUMS"
	manifestExt = ".manifest.json"
)

// Signature is the name of name's detached signature.
func Signature(name string) string { return name + SignatureExt }

// IsSignature reports whether name is a signature, and of which file.
func IsSignature(name string) (target string, ok bool) {
	return strings.CutSuffix(name, SignatureExt)
}

// Package is a library package's file name: "<id>-v<version>.udos-package".
func Package(id, version string) string { return id + "-v" + version + PackageExt }

// PackageManifest is the release asset that carries a package's manifest
// beside it: "<id>-v<version>.manifest.json".
func PackageManifest(id, version string) string { return id + "-v" + version + manifestExt }

// ParsePackage splits "<id>-v<version>.udos-package". The version is the
// first "-v" split whose remainder is a strict semantic version, so both
// "lib-x-v1.0.0-vendor" and "lib-dev-v2-v1.0.0" split right.
func ParsePackage(name string) (id, version string, ok bool) {
	base, isPkg := strings.CutSuffix(name, PackageExt)
	if !isPkg {
		return "", "", false
	}
	for i := 1; i+2 < len(base); i++ {
		if base[i] != '-' || base[i+1] != 'v' {
			continue
		}
		if _, err := semver.StrictNewVersion(base[i+2:]); err == nil {
			return base[:i], base[i+2:], true
		}
	}
	return "", "", false
}

// ReleaseManifest is a uDOS release manifest's file and asset name:
// "v1.4.6-manifest.json" (a leading "v" of version is not doubled).
func ReleaseManifest(version string) string {
	return "v" + strings.TrimPrefix(version, "v") + "-manifest.json"
}

// ParseReleaseManifest returns the version of a release manifest name.
func ParseReleaseManifest(name string) (version string, ok bool) {
	v, ok := strings.CutPrefix(name, "v")
	if !ok {
		return "", false
	}
	v, ok = strings.CutSuffix(v, "-manifest.json")
	if !ok {
		return "", false
	}
	if _, err := semver.StrictNewVersion(v); err != nil {
		return "", false
	}
	return v, true
}

// ReleaseManifestPath is the manifest's conventional path in the uDOS
// repository: "releases/v1.4.6-manifest.json".
func ReleaseManifestPath(version string) string { return "releases/" + ReleaseManifest(version) }

// Fragment is the asset under which one release job uploads the manifest
// holding only its own variant: "udos-sonic-iso-v1.4.6.manifest.json". The
// release job merges every fragment of the draft into ReleaseManifest.
func Fragment(variant, version string) string {
	return "udos-" + variant + "-v" + strings.TrimPrefix(version, "v") + manifestExt
}

var variantName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// IsFragment reports whether name is a manifest fragment of version, and of
// which variant.
func IsFragment(name, version string) (variant string, ok bool) {
	suffix := "-v" + strings.TrimPrefix(version, "v") + manifestExt
	v, ok := strings.CutPrefix(name, "udos-")
	if !ok {
		return "", false
	}
	v, ok = strings.CutSuffix(v, suffix)
	return v, ok && variantName.MatchString(v)
}

// IsChecksumList reports whether name is one of the release's checksum
// lists (or its signature).
func IsChecksumList(name string) bool {
	name, _ = IsSignature(name)
	return name == SHA256Sums || name == SHA512Sums
}

// ImageStatementExt ends the signed statement {image, digest, platform} of
// a container image the release publishes.
const ImageStatementExt = ".image.json"

// ImageStatement is the release asset naming and pinning a variant's
// container image: "udos-wizard-full-v1.4.6.image.json" (signed by
// Signature(ImageStatement(...))).
func ImageStatement(variant, version string) string {
	return "udos-" + variant + "-v" + strings.TrimPrefix(version, "v") + ImageStatementExt
}

// SonicISO is the bootable Sonic image's file and asset name:
// "udos-sonic-v1.4.6.iso".
func SonicISO(version string) string {
	return "udos-sonic-v" + strings.TrimPrefix(version, "v") + ".iso"
}

// SonicIndex is the signed block index of the Sonic image, which
// `udos-lib sonic update` reads to fetch only the blocks it lacks:
// "udos-sonic-v1.4.6.iso.bix" (format: docs/FORMATS.md).
func SonicIndex(version string) string { return SonicISO(version) + ".bix" }

// SonicNetboot is the Sonic network boot bundle's name:
// "udos-sonic-v1.4.6-netboot.tar.gz".
func SonicNetboot(version string) string {
	return "udos-sonic-v" + strings.TrimPrefix(version, "v") + "-netboot.tar.gz"
}

// The amd64 image keeps the plain names above (the first Sonic releases
// had no other); the image of another architecture carries it after the
// version: "udos-sonic-v1.4.6-arm64.iso".
func sonicBase(version, arch string) string {
	b := "udos-sonic-v" + strings.TrimPrefix(version, "v")
	if arch != "" && arch != "amd64" {
		b += "-" + arch
	}
	return b
}

// SonicISOArch is SonicISO for an architecture (GOARCH; "" and "amd64"
// give SonicISO's name): "udos-sonic-v1.4.6-arm64.iso".
func SonicISOArch(version, arch string) string { return sonicBase(version, arch) + ".iso" }

// SonicIndexArch is SonicIndex for an architecture:
// "udos-sonic-v1.4.6-arm64.iso.bix".
func SonicIndexArch(version, arch string) string { return SonicISOArch(version, arch) + ".bix" }

// SonicNetbootArch is SonicNetboot for an architecture:
// "udos-sonic-v1.4.6-arm64-netboot.tar.gz".
func SonicNetbootArch(version, arch string) string {
	return sonicBase(version, arch) + "-netboot.tar.gz"
}

// ReleaseSBOM is the release-wide CycloneDX SBOM the release manifest's
// top-level sbom points at: "udos-v1.4.6.cdx.json".
func ReleaseSBOM(version string) string {
	return "udos-v" + strings.TrimPrefix(version, "v") + ".cdx.json"
}
