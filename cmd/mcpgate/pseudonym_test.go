package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeygenAndPseudonym(t *testing.T) {
	dir := t.TempDir()
	var keys [2]string
	for i := range keys {
		var out, errb bytes.Buffer
		if code := run([]string{"keygen"}, &out, &errb); code != 0 {
			t.Fatalf("keygen exit %d: %s", code, &errb)
		}
		keys[i] = strings.TrimSpace(out.String())
		if b, err := base64.StdEncoding.DecodeString(keys[i]); err != nil || len(b) != 32 {
			t.Fatalf("keygen printed %q (%v)", keys[i], err)
		}
		os.WriteFile(filepath.Join(dir, "k"+string(rune('1'+i))), []byte(keys[i]+"\n"), 0o600)
	}
	if keys[0] == keys[1] {
		t.Fatal("two keygen runs printed the same key")
	}
	cfg := filepath.Join(dir, "mcpgate.yaml")
	os.WriteFile(cfg, []byte("pseudonymization:\n  keys:\n    - {id: k2, file: k2}\n    - {id: k1, file: k1}\n"+
		"auth: {mode: anonymous}\nbackends:\n  - {name: b, url: 'http://127.0.0.1:1/mcp'}\n"), 0o600)

	var out, errb bytes.Buffer
	if code := run([]string{"pseudonym", "--config", cfg, "--issuer", "https://idp.example.com", "--subject", "alice"}, &out, &errb); code != 0 {
		t.Fatalf("pseudonym exit %d: %s", code, &errb)
	}
	want := "k2\t" + hmacHex(t, keys[1], "https://idp.example.com\nalice") + "\tactive\n" +
		"k1\t" + hmacHex(t, keys[0], "https://idp.example.com\nalice") + "\tretired\n"
	if out.String() != want {
		t.Fatalf("pseudonym printed\n%s\nwant\n%s", &out, want)
	}
	if strings.Contains(out.String()+errb.String(), keys[0]) || strings.Contains(out.String()+errb.String(), keys[1]) {
		t.Fatal("output shows key material")
	}

	errb.Reset()
	if code := run([]string{"pseudonym", "--config", cfg, "--issuer", "x"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "usage") {
		t.Fatalf("missing --subject: exit %d, %s", code, &errb)
	}
}

func hmacHex(t *testing.T, key, msg string) string {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
