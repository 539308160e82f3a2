package membership

import (
	"context"
	"log/slog"
	"sync"
	"testing"
)

// recordingHandler keeps the records it is given.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func TestMemberlistLogLevels(t *testing.T) {
	tests := []struct {
		line, msg string
		level     slog.Level
	}{
		{"[ERR] memberlist: Failed to send ping: boom\n", "memberlist: Failed to send ping: boom", slog.LevelWarn},
		{"[WARN] memberlist: Refuting a suspect message (from: n2)\n", "memberlist: Refuting a suspect message (from: n2)", slog.LevelDebug},
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:1\n", "memberlist: Stream connection from=127.0.0.1:1", slog.LevelDebug},
		{"no level at all", "no level at all", slog.LevelDebug},
	}
	for _, tt := range tests {
		h := &recordingHandler{}
		memberlistLogger(slog.New(h)).Print(tt.line)
		if len(h.records) != 1 {
			t.Fatalf("%q: %d records, want 1", tt.line, len(h.records))
		}
		if r := h.records[0]; r.Message != tt.msg || r.Level != tt.level {
			t.Errorf("%q: logged %v %q, want %v %q", tt.line, r.Level, r.Message, tt.level, tt.msg)
		}
	}
}
