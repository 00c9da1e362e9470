package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// newRunID returns a sortable, unique id for one pmpc run: UTC time to the
// second plus random hex. It appears in the run's logs, its audit record and
// its User-Agent.
func newRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// setupLogging builds the run's logger from --log-level/--log-format or
// $PMPC_LOG ("debug", "info", "warn", "error", optionally ",json").
func (g *globals) setupLogging() error {
	level, format := g.logLevel, g.logFormat
	if env := g.getenv("PMPC_LOG"); env != "" {
		l, f, _ := strings.Cut(env, ",")
		if level == "" {
			level = l
		}
		if f != "" && format == "text" {
			format = f
		}
	}
	var lv slog.Level
	switch strings.ToLower(level) {
	case "", "warn", "warning":
		lv = slog.LevelWarn
	case "debug":
		lv = slog.LevelDebug
	case "info":
		lv = slog.LevelInfo
	case "error":
		lv = slog.LevelError
	default:
		return fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	var h slog.Handler
	o := &slog.HandlerOptions{Level: lv}
	w := io.Writer(g.stderr)
	switch format {
	case "", "text":
		h = slog.NewTextHandler(w, o)
	case "json":
		h = slog.NewJSONHandler(w, o)
	default:
		return fmt.Errorf("log format %q: want text or json", format)
	}
	g.logger = slog.New(h).With("run", g.runID)
	return nil
}
