package dockertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// TestTestsvcRunsHealthy pulls the test service from the loopback registry
// and runs it hardened; the engine must report it healthy, and everything
// the test made must be gone after Remove.
func TestTestsvcRunsHealthy(t *testing.T) {
	cli := Engine(t)
	label := Label(t, cli)
	ref, _ := TestsvcImage(t, label)
	Pull(t, cli, ref)
	ctx := context.Background()
	c, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   "udos-test-" + label,
		Config: &container.Config{Image: ref, Labels: map[string]string{LabelKey: label}},
		HostConfig: &container.HostConfig{ReadonlyRootfs: true, CapDrop: []string{"ALL"},
			SecurityOpt: []string{"no-new-privileges:true"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		in, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if in.Container.State.Health != nil && in.Container.State.Health.Status == container.Healthy {
			if in.Container.Config.User != "10001:10001" {
				t.Errorf("user %q", in.Container.Config.User)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy: %+v", in.Container.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
	Remove(cli, label)
	cs, _ := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", LabelKey+"="+label)})
	is, _ := cli.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", LabelKey+"="+label)})
	if len(cs.Items) != 0 || len(is.Items) != 0 {
		t.Errorf("left behind: %d containers, %d images", len(cs.Items), len(is.Items))
	}
}
