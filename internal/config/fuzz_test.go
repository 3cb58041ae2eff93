package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(full), minimalURL, minimalCommand, "", "a: 1\n---\nb: 2\n", "x: &a 1\ny: *a\n",
		"listen: ${env:A}\n" + minimalURL, "limits: {maxBodyBytes: 4MiB}\n" + minimalURL,
		"trustedProxies: [10.0.0.0/8, ::1]\n" + minimalURL, "cors: {allowedOrigins: ['*']}\n" + minimalURL,
		"backends:\n  - name: a\n    command: x\n    args: [y]\n    env: {A: ${file:/s}}\nauth: {mode: [anonymous]}\n",
		"sessions: {keys: [{id: s1, env: K}, {id: s0, file: /k}], maxLifetime: 1h, replica: gw-0}\n" + minimalURL,
	} {
		f.Add([]byte(s))
	}
	look := fakeLookup(map[string]string{"A": "127.0.0.1:1", "B": "x\n", "K": testKey}, map[string]string{"/s": "secret\n", "s": "y", "/k": testKey})
	f.Fuzz(func(t *testing.T, data []byte) {
		hang := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Parse hangs on %q", data)) })
		defer hang.Stop()
		c, err := Parse("f.yaml", data, look)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			if strings.Contains(err.Error(), "secret") && !strings.Contains(string(data), "secret") {
				t.Fatalf("error reveals a resolved value: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		_ = c.Warnings()
		_ = c.LogValue().String()
	})
}
