package aggregate

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestLevelShift(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Level
		msg   string
		want  string // the level logged, or "" for nothing at Info
	}{
		{"info becomes debug", slog.LevelInfo, "server session connected", ""},
		{"undelivered notification becomes debug", slog.LevelWarn,
			"calling notifications/tools/list_changed: rejected by transport: undelivered message: stream not connected or already closed", ""},
		{"other warnings stay", slog.LevelWarn, "calling notifications/progress: context deadline exceeded", "WARN"},
		{"a rejected request stays", slog.LevelWarn, "calling sampling/createMessage: rejected by transport: undelivered message", "WARN"},
		{"errors stay", slog.LevelError, "calling notifications/tools/list_changed: rejected by transport", "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(levelShift{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})})
			log.Log(context.Background(), tt.level, tt.msg)
			got := buf.String()
			if tt.want == "" {
				if got != "" {
					t.Errorf("logged %q, want nothing at level Info", got)
				}
				return
			}
			if !strings.Contains(got, "level="+tt.want) {
				t.Errorf("logged %q, want level %s", got, tt.want)
			}
		})
	}
}
