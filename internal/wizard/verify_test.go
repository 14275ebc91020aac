package wizard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/dockertest"
	"github.com/fredbook/udos-dist/internal/ociimage"
	"github.com/fredbook/udos-dist/internal/pgpsign"
)

// signedRig signs a statement for the rig's image and returns the trust
// made from it.
func signedRig(t *testing.T, r *rig) *Trust {
	t.Helper()
	priv, pub, err := pgpsign.GenerateTestKey("Release", "release@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := pgpsign.LoadSigner(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo, digest, _ := strings.Cut(r.image, "@")
	dir := filepath.Join(r.dir, "statements")
	os.MkdirAll(dir, 0o755)
	st := ociimage.Statement{Image: repo, Digest: digest, Platform: ociimage.PlatformString(v1.Platform{OS: "linux", Architecture: runtime.GOARCH})}
	if _, _, err := ociimage.WriteSigned(dir, "wizard-full", "1.4.6", signer, st); err != nil {
		t.Fatal(err)
	}
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := LoadTrust(dir, kr)
	if err != nil {
		t.Fatal(err)
	}
	return trust
}

// TestVerifyImage: the image the engine pulled by its signed digest
// passes; another image re-tagged under the signed name is refused, and
// up with the keyring refuses to start it.
func TestVerifyImage(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	trust := signedRig(t, r)
	m := r.project(r.service("app", []string{"serve"}))
	ctx := context.Background()
	dockertest.Pull(t, r.cli, r.image)
	s, err := m.VerifyImage(ctx, r.image, trust)
	if err != nil {
		t.Fatalf("signed image refused: %v", err)
	}
	if !strings.Contains(s.Signer, "Release") {
		t.Errorf("signer %q", s.Signer)
	}
	// The tag of the signed image verifies through its digest too.
	dockertest.Pull(t, r.cli, r.tag)
	if _, err := m.VerifyImage(ctx, r.tag, trust); err != nil {
		t.Errorf("signed image by tag refused: %v", err)
	}

	// An image the release never signed, pushed to the same repository
	// and re-tagged locally as the signed tag.
	otherLabel := r.label + "-other"
	other, _ := dockertest.TestsvcImage(t, otherLabel)
	t.Cleanup(func() { dockertest.Remove(r.cli, otherLabel) })
	dockertest.Pull(t, r.cli, other)
	retagged := r.tag[:strings.LastIndex(r.tag, ":")] + ":retagged-" + r.label[len(r.label)-6:]
	if _, err := r.cli.ImageTag(ctx, client.ImageTagOptions{Source: other, Target: retagged}); err != nil {
		t.Fatal(err)
	}
	_, err = m.VerifyImage(ctx, retagged, trust)
	var ue *UnsignedError
	if !errors.As(err, &ue) || !errors.Is(err, ociimage.ErrUnsigned) {
		t.Fatalf("re-tagged image: %v", err)
	}
	if !strings.Contains(err.Error(), "no statement signed by a trusted key names this digest") {
		t.Errorf("message: %v", err)
	}

	// up with the keyring refuses the unsigned image before creating anything.
	m2 := r.project(strings.Replace(r.service("app", []string{"serve"}), r.image, retagged, 1))
	err = m2.Up(ctx, UpOptions{WaitTimeout: time.Minute, Trust: trust})
	if !errors.As(err, &ue) {
		t.Fatalf("up with an unsigned image: %v", err)
	}
	if o := r.observe("app"); o.Exists {
		t.Error("a container of an unsigned image was created")
	}
	var refused bool
	for _, e := range r.audit() {
		refused = refused || (e.Action == "verify-image" && strings.HasPrefix(e.Message, "refused"))
	}
	if !refused {
		t.Error("the refusal is not in the audit trail")
	}
}
