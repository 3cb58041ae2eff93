package aggregate

import (
	"errors"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestExposed(t *testing.T) {
	long := strings.Repeat("x", 130)
	tests := []struct {
		name    string
		naming  Naming
		backend string
		own     string
		want    string
	}{
		{"prefix", Naming{Separator: "_", Prefix: true}, "search", "query", "search_query"},
		{"other separator", Naming{Separator: ".", Prefix: true}, "search", "query", "search.query"},
		{"prefix off", Naming{Separator: "_", Prefix: false}, "search", "query", "query"},
		{"exactly the limit", Naming{Separator: "_", Prefix: true}, "b", strings.Repeat("y", 126), "b_" + strings.Repeat("y", 126)},
		{"truncated", Naming{Separator: "_", Prefix: true}, "b", long, ("b_" + long)[:119] + "_" + hash8("b_"+long)},
		{"truncated without prefix", Naming{Separator: "_"}, "b", long, long[:119] + "_" + hash8(long)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.naming.Exposed(tt.backend, tt.own)
			if got != tt.want {
				t.Errorf("Exposed(%q, %q) = %q, want %q", tt.backend, tt.own, got, tt.want)
			}
			if len(got) > MaxNameLen {
				t.Errorf("len = %d, over %d", len(got), MaxNameLen)
			}
		})
	}
}

// TestExposedTruncationKeepsNamesApart: two long names with a common
// beginning stay distinct, and one name always maps the same way.
func TestExposedTruncationKeepsNamesApart(t *testing.T) {
	n := Naming{Separator: "_", Prefix: true}
	a := n.Exposed("b", strings.Repeat("z", 200)+"-one")
	b := n.Exposed("b", strings.Repeat("z", 200)+"-two")
	if a == b {
		t.Fatalf("two long names truncated to the same %q", a)
	}
	if a != n.Exposed("b", strings.Repeat("z", 200)+"-one") {
		t.Fatal("truncation is not deterministic")
	}
	// A multi-byte rune at the cut is not split.
	u := n.Exposed("b", strings.Repeat("é", 100))
	if !strings.HasPrefix(u, "b_") || len(u) > MaxNameLen || !validUTF8(u) {
		t.Fatalf("truncated %q (len %d) is not valid UTF-8 within the limit", u, len(u))
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name   string
		filter Filter
		allow  []string
		deny   []string
	}{
		{"no filter", Filter{}, []string{"echo", "anything"}, nil},
		{"include exact", Filter{Include: []string{"echo"}}, []string{"echo"}, []string{"echo2", "get-sum"}},
		{"include glob", Filter{Include: []string{"get-*", "echo"}}, []string{"get-sum", "get-env", "echo"}, []string{"trigger-x"}},
		{"exclude glob", Filter{Exclude: []string{"trigger-*"}}, []string{"echo"}, []string{"trigger-sampling-request", "trigger-"}},
		{"exclude wins", Filter{Include: []string{"*"}, Exclude: []string{"delete_?"}}, []string{"delete_all", "read"}, []string{"delete_a"}},
		{"character class", Filter{Include: []string{"tool[0-9]"}}, []string{"tool1"}, []string{"toolx", "tool10"}},
		{"malformed pattern matches nothing", Filter{Include: []string{"a["}}, nil, []string{"a[", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range tt.allow {
				if !tt.filter.Allows(n) {
					t.Errorf("Allows(%q) = false, want true", n)
				}
			}
			for _, n := range tt.deny {
				if tt.filter.Allows(n) {
					t.Errorf("Allows(%q) = true, want false", n)
				}
			}
		})
	}
}

func TestNameCollisions(t *testing.T) {
	type item struct{ backend, own string }
	tests := []struct {
		name    string
		naming  Naming
		items   []item
		collide string // the client-visible name that collides; "" for none
	}{
		{"prefix keeps same names apart", Naming{"_", true}, []item{{"a", "echo"}, {"b", "echo"}}, ""},
		{"prefix off, same name", Naming{"_", false}, []item{{"a", "echo"}, {"b", "echo"}}, "echo"},
		{"prefix off, distinct names", Naming{"_", false}, []item{{"a", "echo"}, {"b", "sum"}}, ""},
		{"prefix on, ambiguous split", Naming{"_", true}, []item{{"a_b", "c"}, {"a", "b_c"}}, "a_b_c"},
		{"same backend twice is a replacement", Naming{"_", false}, []item{{"a", "echo"}, {"a", "echo"}}, ""},
		{"truncated names of two backends stay apart", Naming{"_", true}, []item{{"a", strings.Repeat("q", 140)}, {"b", strings.Repeat("q", 140)}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As applyLocked does: each backend's catalog is checked
			// against the other backends' on the session.
			offered := map[string]*catalog{}
			var err error
		items:
			for _, it := range tt.items {
				cat := newCatalog(tt.naming, it.backend, &lists{tools: []*mcp.Tool{{Name: it.own}}})
				for b, other := range offered {
					if b == it.backend {
						continue
					}
					if err = cat.collides(other); err != nil {
						break items
					}
				}
				offered[it.backend] = cat
			}
			var ce *CollisionError
			switch {
			case tt.collide == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.collide != "" && !errors.As(err, &ce):
				t.Fatalf("err = %v, want a CollisionError", err)
			case tt.collide != "":
				if ce.Name != tt.collide {
					t.Errorf("collision on %q, want %q", ce.Name, tt.collide)
				}
				if !strings.Contains(err.Error(), "aggregate.prefix") {
					t.Errorf("error %q does not say how to fix it", err)
				}
			}
		})
	}
}

func TestURIs(t *testing.T) {
	type listing struct{ backend, uri, want string }
	tests := []struct {
		name     string
		listings []listing
	}{
		{"distinct URIs stay as they are", []listing{
			{"a", "file:///a.txt", "file:///a.txt"},
			{"b", "file:///b.txt", "file:///b.txt"},
		}},
		{"second lister is wrapped", []listing{
			{"a", "test://static/resource/1", "test://static/resource/1"},
			{"b", "test://static/resource/1", "mcpgate://b/test://static/resource/1"},
		}},
		{"third lister too", []listing{
			{"a", "x://1", "x://1"},
			{"b", "x://1", "mcpgate://b/x://1"},
			{"c", "x://1", "mcpgate://c/x://1"},
		}},
		{"same backend listing again keeps it", []listing{
			{"a", "x://1", "x://1"},
			{"a", "x://1", "x://1"},
		}},
		{"a backend URI that looks wrapped is wrapped again", []listing{
			{"a", "mcpgate://b/x://1", "mcpgate://a/mcpgate://b/x://1"},
		}},
	}
	known := func(b string) bool { return b == "a" || b == "b" || b == "c" }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newURITable()
			for _, l := range tt.listings {
				got := tab.add(l.backend, l.uri)
				if got != l.want {
					t.Errorf("add(%q, %q) = %q, want %q", l.backend, l.uri, got, l.want)
				}
				// Routing the client-visible URI gives back the backend and
				// its own URI.
				r, ok := tab.route(got, known)
				if !ok || r.Backend != l.backend || r.Own != l.uri {
					t.Errorf("route(%q) = %+v %v, want {%s %s}", got, r, ok, l.backend, l.uri)
				}
			}
		})
	}
}

func TestUnwrapURI(t *testing.T) {
	tests := []struct {
		name, uri, backend, own string
		ok                      bool
	}{
		{"wrapped", "mcpgate://web/test://static/1", "web", "test://static/1", true},
		{"wrapped template instance", "mcpgate://web/test://static/resource/{id}", "web", "test://static/resource/{id}", true},
		{"plain", "test://static/1", "", "", false},
		{"no backend", "mcpgate:///x", "", "", false},
		{"no slash", "mcpgate://web", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, o, ok := UnwrapURI(tt.uri)
			if b != tt.backend || o != tt.own || ok != tt.ok {
				t.Errorf("UnwrapURI(%q) = %q, %q, %v; want %q, %q, %v", tt.uri, b, o, ok, tt.backend, tt.own, tt.ok)
			}
			if ok && WrapURI(b, o) != tt.uri {
				t.Errorf("WrapURI(%q, %q) does not give back %q", b, o, tt.uri)
			}
		})
	}
}

// TestRouting: a client-visible name goes to the backend that offered it,
// under the backend's own name; a name carrying the prefix of a backend that
// offers nothing now (it is down) is attributed to that backend.
func TestRouting(t *testing.T) {
	n := Naming{Separator: "_", Prefix: true}
	s := &session{offered: map[string]*offer{}}
	for _, it := range []struct{ b, own string }{{"web", "echo"}, {"web_2", "echo"}, {"local", "get-sum"}} {
		s.offered[it.b] = &offer{cat: newCatalog(n, it.b, &lists{tools: []*mcp.Tool{{Name: it.own}}})}
	}
	backends := []string{"web", "web_2", "local", "gob"}
	tests := []struct {
		name, call  string
		wantBackend string
		wantOwn     string // "" when the name is not offered
	}{
		{"first backend", "web_echo", "web", "echo"},
		{"longer backend name sharing a prefix", "web_2_echo", "web_2", "echo"},
		{"own name with dash", "local_get-sum", "local", "get-sum"},
		{"backend that is down", "gob_greet", "gob", ""},
		{"unknown prefix", "nobody_echo", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := s.routeLocked("tools/call", tt.call)
			if tt.wantOwn != "" {
				if !ok || r.Backend != tt.wantBackend || r.Own != tt.wantOwn {
					t.Fatalf("route(%q) = %+v %v, want {%s %s}", tt.call, r, ok, tt.wantBackend, tt.wantOwn)
				}
				return
			}
			if ok {
				t.Fatalf("route(%q) = %+v, want none", tt.call, r)
			}
			b, ok := n.splitPrefixed(tt.call, backends)
			if b != tt.wantBackend || ok != (tt.wantBackend != "") {
				t.Errorf("splitPrefixed(%q) = %q %v, want %q", tt.call, b, ok, tt.wantBackend)
			}
		})
	}
	if _, ok := (Naming{Separator: "_"}).splitPrefixed("gob_greet", backends); ok {
		t.Error("splitPrefixed with prefix off claims a backend")
	}
}
