package audit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// sink is where the writer puts events.
type sink interface {
	io.Writer
	Sync() error
	Close() error
	reopens() bool // whether Reopen closes and reopens it
}

func openSink(o *Options, log *slog.Logger) (sink, error) {
	switch {
	case o.Writer != nil:
		return writerSink{o.Writer}, nil
	case o.Sink == SinkStdout:
		w := o.Stdout
		if w == nil {
			w = os.Stdout
		}
		// Not synced: fsync of a pipe fails, and whatever reads stdout
		// owns durability from there.
		return writerSink{struct{ io.Writer }{w}}, nil
	case o.Sink == "":
		return nil, errors.New("audit: no sink configured (a file path or stdout)")
	}
	return openFile(o.Sink, log)
}

// fileSink is an append-only file.
type fileSink struct{ *os.File }

func (fileSink) reopens() bool { return true }

// openFile opens path for appending, creating it with mode 0600. O_APPEND
// makes every write land at the end even if another process (a rotator
// using copytruncate) moved the end.
func openFile(path string, log *slog.Logger) (sink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("audit sink %s: directory %s does not exist", path, filepath.Dir(path))
		}
		return nil, fmt.Errorf("audit sink: %w", err)
	}
	if fi, err := f.Stat(); err == nil {
		if !fi.Mode().IsRegular() {
			// A FIFO or device is allowed (e.g. /dev/stdout), but not a
			// directory, which OpenFile already refused.
			log.Info("audit sink is not a regular file", "path", path, "mode", fi.Mode().String())
		} else if fi.Mode().Perm()&0o077 != 0 {
			log.Warn("audit sink is readable or writable by others; it names principals (chmod 600)", "path", path, "mode", fi.Mode().Perm().String())
		}
	}
	return fileSink{f}, nil
}

// writerSink adapts an io.Writer: synced and closed when it can be.
type writerSink struct{ io.Writer }

func (w writerSink) Sync() error {
	if s, ok := w.Writer.(interface{ Sync() error }); ok {
		return s.Sync()
	}
	return nil
}

func (w writerSink) Close() error {
	if c, ok := w.Writer.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (writerSink) reopens() bool { return false }
