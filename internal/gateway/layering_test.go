package gateway

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// layering is the import order of the packages under internal/, as
// docs/architecture.md ("Packages and layering") lists them: a package may
// import only packages before it. Go already refuses a cycle; this keeps
// the order the design relies on — the leaves stay leaves, no stage
// imports a reporter or a relay, no relay imports another — from eroding
// one convenient import at a time (audit before telemetry: the audit log
// needs no instrumentation, only its span through a hook). The gateway is
// last: it assembles
// everything, so its tests are where the whole graph is checked.
var layering = []string{
	"jsonrpc", "identity", "pseudonym", "sessionseal", "sse", "childproc", "redact", "health", "idleread", "testidp", "testredis",
	"mcpwire", "mcpwire/mcpwiretest", "record", "credmask", "attribution",
	"config", "authz", "ratelimit",
	"observe", "guard", "inspect", "authn", "sessionbind", "sealedsession", "authzstage",
	"audit", "telemetry", "otelsetup", "tracelog",
	"httprelay", "stdiorelay", "aggregate",
	"gateway",
}

// leaves import no other package of the project.
var leaves = []string{"jsonrpc", "identity", "pseudonym", "sessionseal", "sse", "childproc", "redact", "health", "idleread", "testidp", "testredis"}

// TestLayering reads the imports of every non-test file under internal/
// and checks them against layering.
func TestLayering(t *testing.T) {
	const module = "github.com/mcpgate/mcpgate/internal/"
	imports := internalImports(t, "..", module)
	for pkg := range imports {
		if !slices.Contains(layering, pkg) {
			t.Errorf("internal/%s is not in the layering: add it to docs/architecture.md and to layering here", pkg)
		}
	}
	for i, pkg := range layering {
		deps, ok := imports[pkg]
		if !ok {
			t.Errorf("internal/%s is in the layering but has no Go files", pkg)
			continue
		}
		for _, dep := range deps {
			j := slices.Index(layering, dep)
			switch {
			case slices.Contains(leaves, pkg):
				t.Errorf("internal/%s is a leaf but imports internal/%s", pkg, dep)
			case j >= i:
				t.Errorf("internal/%s imports internal/%s, which comes after it in the layering", pkg, dep)
			}
		}
	}
}

// internalImports maps each package directory below root (as a path
// relative to it) to the project packages its non-test files import.
func internalImports(t *testing.T, root, module string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		deps := out[pkg]
		for _, spec := range f.Imports {
			p, _ := strconv.Unquote(spec.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok && !slices.Contains(deps, dep) {
				deps = append(deps, dep)
			}
		}
		out[pkg] = deps
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
