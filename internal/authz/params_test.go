package authz

import "testing"

func TestReadParams(t *testing.T) {
	tests := []struct {
		name, method, params string
		args                 string
		ref                  Target
	}{
		{"tool arguments", "tools/call", `{"name":"x","arguments":{"path":"/etc"}}`, `{"path":"/etc"}`, Target{}},
		{"case-variant member", "tools/call", `{"name":"x","ARGUMENTS": {"a":1} }`, `{"a":1}`, Target{}},
		{"last one counts", "tools/call", `{"arguments":{"a":1},"arguments":{"a":2}}`, `{"a":2}`, Target{}},
		{"none", "tools/call", `{"name":"x"}`, "", Target{}},
		{"completion prompt", "completion/complete", `{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"n","value":"v"}}`,
			`{"name":"n","value":"v"}`, Target{Kind: KindPrompt, Name: "greet"}},
		{"completion resource", "completion/complete", `{"ref":{"type":"ref/resource","uri":"file:///{p}"},"argument":{}}`,
			`{}`, Target{Kind: KindResource, Name: "file:///{p}"}},
		{"completion unknown ref", "completion/complete", `{"ref":{"type":"ref/other","name":"x"}}`, "", Target{}},
		{"malformed", "tools/call", `{"arguments":`, "", Target{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReadParams(tt.method, []byte(tt.params))
			if string(got.Arguments) != tt.args || got.Ref != tt.ref {
				t.Errorf("ReadParams = %q %+v, want %q %+v", got.Arguments, got.Ref, tt.args, tt.ref)
			}
		})
	}
}

func TestMarkPrivate(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"replaces", `{"tools":[],"cacheScope":"public","ttlMs":1}`, `{"tools":[],"cacheScope":"private","ttlMs":1}`},
		{"case-variant replaced", `{"CacheScope": "public"}`, `{"CacheScope": "private"}`},
		{"adds", `{"tools":[]}`, `{"cacheScope":"private","tools":[]}`},
		{"adds to empty", ` { } `, ` {"cacheScope":"private" } `},
		{"every variant", `{"cacheScope":"public","CACHESCOPE":"public"}`, `{"cacheScope":"private","CACHESCOPE":"private"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MarkPrivate([]byte(tt.in))
			if err != nil || string(got) != tt.want {
				t.Errorf("MarkPrivate = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
	if _, err := MarkPrivate([]byte(`[1]`)); err == nil {
		t.Error("an array was marked")
	}
}
