package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRun feeds the chart's default rendering, and that rendering with
// one thing broken, to run. validate is /bin/true or /bin/false, so the
// cases test rendercheck's own checks and that it passes validate's
// verdict on; scripts/check-deploy.sh runs the real mcpgate.
func TestRun(t *testing.T) {
	good, err := os.ReadFile("testdata/rendered.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		old, new string // replaced once in the good rendering
		validate string
		wantErr  string // "" = passes
	}{
		{name: "defaults pass", validate: trueBin},
		{name: "validate fails", validate: falseBin, wantErr: "mcpgate validate"},
		{name: "secret mode 0644", old: "defaultMode: 0440", new: "defaultMode: 0644", validate: trueBin, wantErr: "defaultMode must be 0440"},
		{name: "no fsGroup", old: "fsGroup: 65532", new: "", validate: trueBin, wantErr: "fsGroup"},
		{name: "grace period too short", old: "terminationGracePeriodSeconds: 45", new: "terminationGracePeriodSeconds: 40", validate: trueBin, wantErr: "must exceed"},
		{name: "no preStop sleep", old: "sleep: {seconds: 10}", new: "sleep: {seconds: 0}", validate: trueBin, wantErr: "no preStop sleep"},
		{name: "liveness on readyz", old: "path: /healthz, port: http", new: "path: /readyz, port: http", validate: trueBin, wantErr: "liveness probe"},
		{name: "listen port differs", old: "listen: 0.0.0.0:8080", new: "listen: 0.0.0.0:8081", validate: trueBin, wantErr: "container port 8080"},
		{name: "admin port differs", old: "listen: 0.0.0.0:9464", new: "listen: 0.0.0.0:9465", validate: trueBin, wantErr: "container port 9464"},
		{name: "writable root", old: "readOnlyRootFilesystem: true", new: "readOnlyRootFilesystem: false", validate: trueBin, wantErr: "readOnlyRootFilesystem"},
		{name: "runs as root", old: "runAsNonRoot: true", new: "runAsNonRoot: false", validate: trueBin, wantErr: "runAsNonRoot"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := string(good)
			if tc.old != "" {
				if !strings.Contains(in, tc.old) {
					t.Fatalf("testdata/rendered.yaml has no %q", tc.old)
				}
				in = strings.Replace(in, tc.old, tc.new, 1)
			}
			err := run(strings.NewReader(in), tc.validate, "../helm/ci/secrets")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("run: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("run passed, want an error with %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("run: %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}
