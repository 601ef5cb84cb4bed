package check

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfile checks the image's recipe without a container engine (this
// machine has none): a multi-stage build whose final stage is a distroless,
// non-root base, built by deploy/build.sh (static, stamped), never :latest.
// .ci/run runs deploy/build.sh itself and checks the binary is static and
// stamped.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	froms := regexp.MustCompile(`(?m)^FROM\s+(?:--platform=\S+\s+)?(\S+)`).FindAllStringSubmatch(src, -1)
	if len(froms) < 2 {
		t.Fatalf("not a multi-stage build: %d FROM lines", len(froms))
	}
	for _, f := range froms {
		if strings.HasSuffix(f[1], ":latest") || !strings.ContainsAny(f[1], ":@") {
			t.Errorf("base image %s is not pinned", f[1])
		}
	}
	final := froms[len(froms)-1][1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") || !strings.Contains(final, "nonroot") {
		t.Errorf("final stage %s is not distroless/static:nonroot", final)
	}
	last := src[strings.LastIndex(src, "\nFROM "):]
	if m := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(last); m == nil || m[1] == "root" || strings.HasPrefix(m[1], "0") {
		t.Errorf("final stage does not switch to a non-root USER")
	}
	for _, want := range []string{"deploy/build.sh", "ARG VERSION", "ARG COMMIT", "ARG DATE"} {
		if !strings.Contains(src, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	build, err := os.ReadFile("../build.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-X main.version=", "-X main.commit=", "-X main.date=", "-trimpath"} {
		if !strings.Contains(string(build), want) {
			t.Errorf("deploy/build.sh lacks %q", want)
		}
	}
}
