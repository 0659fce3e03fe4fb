package gateway

import "log/slog"

func levelFor(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400 && status != 499:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}
