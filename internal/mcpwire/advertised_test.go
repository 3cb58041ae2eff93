package mcpwire

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestAdvertised: the revisions a -32022 offers through a relay are the
// gateway's known revisions that the backend's last server/discover result
// lists, newest first; every known revision until a result names one.
func TestAdvertised(t *testing.T) {
	all := []string{Version20260728, Version20251125, Version20250618, Version20250326, Version20241105}
	const pair = `{"supportedVersions":["2026-07-28","2025-11-25"],"capabilities":{}}`
	tests := []struct {
		name    string
		results []string // server/discover results seen, in order
		want    []string
	}{
		{"nothing seen", nil, all},
		{"the backend's list", []string{pair}, []string{Version20260728, Version20251125}},
		{"unknown revisions left out", []string{`{"supportedVersions":["2099-01-01","2025-11-25","v999.0.0"]}`}, []string{Version20251125}},
		{"newest first whatever the backend's order", []string{`{"supportedVersions":["2024-11-05","2026-07-28","2025-06-18"]}`},
			[]string{Version20260728, Version20250618, Version20241105}},
		{"listed twice, offered once", []string{`{"supportedVersions":["2025-11-25","2025-11-25"]}`}, []string{Version20251125}},
		{"the last result counts", []string{pair, `{"supportedVersions":["2025-06-18"]}`}, []string{Version20250618}},
		{"no known revision: every known one again", []string{pair, `{"supportedVersions":["2099-01-01"]}`}, all},
		{"an empty list: every known one again", []string{pair, `{"supportedVersions":[]}`}, all},
		{"no supportedVersions changes nothing", []string{pair, `{"capabilities":{}}`}, []string{Version20260728, Version20251125}},
		{"null changes nothing", []string{pair, `{"supportedVersions":null}`}, []string{Version20260728, Version20251125}},
		{"not an array changes nothing", []string{pair, `{"supportedVersions":"2025-06-18"}`}, []string{Version20260728, Version20251125}},
		{"a non-string entry changes nothing", []string{pair, `{"supportedVersions":[20250618,"2025-06-18"]}`}, []string{Version20260728, Version20251125}},
		{"not an object changes nothing", []string{pair, `["2025-06-18"]`}, []string{Version20260728, Version20251125}},
		{"not JSON changes nothing", []string{pair, `{"supportedVersions":["2025-06-18"]`}, []string{Version20260728, Version20251125}},
		// A client's JSON.parse reads the exact name, and the last of two.
		{"another spelling is not the member", []string{`{"SupportedVersions":["2025-06-18"]}`}, all},
		{"of duplicates the last counts", []string{`{"supportedVersions":["2025-06-18"],"supportedVersions":["2025-03-26"]}`}, []string{Version20250326}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Advertised
			for _, r := range tt.results {
				a.LearnDiscover([]byte(r))
			}
			if got := a.Supported(); !slices.Equal(got, tt.want) {
				t.Errorf("Supported() = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		var a *Advertised
		a.LearnDiscover([]byte(pair)) // must not panic
		if got := a.Supported(); !slices.Equal(got, all) {
			t.Errorf("Supported() = %v, want %v", got, all)
		}
	})
}

// FuzzAdvertised: whatever a backend sends as a server/discover result,
// the revisions offered are known ones, newest first, never none, and
// exactly the known ones the result lists when it lists any.
func FuzzAdvertised(f *testing.F) {
	for _, s := range []string{
		`{"supportedVersions":["2026-07-28","2025-11-25"]}`, `{"supportedVersions":[]}`, `{"supportedVersions":null}`,
		`{"supportedVersions":["2099-01-01"]}`, `{"supportedVersions":[1]}`, `[]`, `null`, `{`, ``,
		`{"supportedVersions":["2025-06-18"],"supportedVersions":["2025-03-26"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, result []byte) {
		var a Advertised
		a.LearnDiscover(result)
		got := a.Supported()
		if len(got) == 0 {
			t.Fatal("nothing offered")
		}
		for i, v := range got {
			if !KnownVersion(v) {
				t.Fatalf("offers unknown %q", v)
			}
			if i > 0 && got[i-1] <= v {
				t.Fatalf("not newest first, or repeated: %v", got)
			}
		}
		// The oracle: a decode of the member by another route.
		var members map[string]json.RawMessage
		var listed []string
		var want []string
		if json.Unmarshal(result, &members) == nil && json.Unmarshal(members["supportedVersions"], &listed) == nil {
			for i := len(Versions) - 1; i >= 0; i-- {
				if slices.Contains(listed, Versions[i]) {
					want = append(want, Versions[i])
				}
			}
		}
		if len(want) == 0 {
			want = new(Advertised).Supported()
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Supported() = %v, want %v for %q", got, want, result)
		}
	})
}
