package membership

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// slogWriter turns memberlist's log lines ("[WARN] memberlist: ...") into
// slog records. memberlist logs every failed probe and refuted suspicion,
// which is noise for an operator, so everything goes to Debug except
// [ERR], which goes to Warn. Our own member events are logged at Info by
// Membership itself.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	level := slog.LevelDebug
	if rest, ok := strings.CutPrefix(line, "[ERR] "); ok {
		level, line = slog.LevelWarn, rest
	} else if strings.HasPrefix(line, "[") {
		if _, rest, ok := strings.Cut(line, "] "); ok {
			line = rest
		}
	}
	w.log.Log(context.Background(), level, line, "component", "memberlist")
	return len(p), nil
}

// memberlistLogger is the *log.Logger memberlist's Config.Logger takes.
func memberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(slogWriter{log: l}, "", 0)
}
