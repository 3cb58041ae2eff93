package redact

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type valuer struct{ s string }

func (v valuer) LogValue() slog.Value { return slog.GroupValue(slog.String("inner", v.s)) }

// TestHandler logs the secret in every place a record can carry a string
// and checks none of them reaches the output, in both handler formats.
func TestHandler(t *testing.T) {
	const secret = "s3cr3t-value"
	f := func(s string) string { return strings.ReplaceAll(s, secret, "${env:X}") }
	urlErr := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/mcp?api_key=" + secret, Err: errors.New("connection refused")}
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.Warn("backend " + secret + " failed") }},
		{"string attr", func(l *slog.Logger) { l.Info("m", "url", "http://h/?k="+secret) }},
		{"url.Error attr", func(l *slog.Logger) { l.Warn("backend request failed", "error", urlErr) }},
		{"wrapped error attr", func(l *slog.Logger) { l.Warn("m", "error", fmt.Errorf("calling tools/list: %w", urlErr)) }},
		{"Stringer attr", func(l *slog.Logger) { l.Info("m", "u", stringer{secret}) }},
		{"LogValuer attr", func(l *slog.Logger) { l.Info("m", "cfg", valuer{secret}) }},
		{"[]string attr", func(l *slog.Logger) { l.Info("m", "command", []string{"srv", "--token", secret}) }},
		{"map attr", func(l *slog.Logger) { l.Info("m", "headers", map[string]string{"Authorization": "Bearer " + secret}) }},
		{"group attr", func(l *slog.Logger) { l.Info("m", slog.Group("g", slog.String("k", secret))) }},
		{"With attr", func(l *slog.Logger) { l.With("backend", secret).Info("m") }},
		{"WithGroup then attr", func(l *slog.Logger) { l.WithGroup("g").Info("m", "k", secret) }},
	}
	for _, tt := range tests {
		for _, format := range []string{"json", "text"} {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				var h slog.Handler = slog.NewJSONHandler(&buf, nil)
				if format == "text" {
					h = slog.NewTextHandler(&buf, nil)
				}
				tt.log(slog.New(Handler(h, f)))
				if out := buf.String(); strings.Contains(out, secret) || !strings.Contains(out, "${env:X}") {
					t.Errorf("output %s: want the secret replaced by ${env:X}", out)
				}
			})
		}
	}

	// Values with nothing to redact keep their structure.
	var buf bytes.Buffer
	slog.New(Handler(slog.NewJSONHandler(&buf, nil), f)).Info("m", "n", 3, "m", map[string]int{"a": 1})
	if !strings.Contains(buf.String(), `"n":3`) || !strings.Contains(buf.String(), `"m":{"a":1}`) {
		t.Errorf("unredacted values changed: %s", &buf)
	}
}
