package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Files that hold secrets — ${file:…} references and pseudonymization key
// files — are refused when group or others can access them, as ssh refuses
// a private key that is "too open": a secret any local user can read is no
// longer a secret, and a key file others can write can be replaced. One
// exception, PostgreSQL's rule for its server key: a file owned by root
// may be readable by its group (0640, 0440), which is how Kubernetes
// secret volumes with fsGroup give a non-root process a secret, and where
// root chose the group. The check applies to regular files; a FIFO or a
// device (${file:/dev/stdin}) has no meaningful mode.

// secretModeError is a secret file with too open a mode.
type secretModeError struct {
	path string
	mode fs.FileMode
}

func (e *secretModeError) Error() string {
	return fmt.Sprintf("has mode %#o: group or others can access it, and it holds a secret; run: chmod 600 %s (a file owned by root may also be 0640)",
		e.mode.Perm(), e.path)
}

// checkSecretMode returns a *secretModeError when fi, the file at path, is
// a regular file that group or others can access beyond the exception.
func checkSecretMode(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() || !modesApply {
		return nil
	}
	allowed := fs.FileMode(0o700)
	if ownedByRoot(fi) {
		allowed = 0o740
	}
	if fi.Mode().Perm()&^allowed != 0 {
		return &secretModeError{path: path, mode: fi.Mode()}
	}
	return nil
}

// readSecretFile reads a file that holds a secret, refusing it (with a
// *secretModeError) when its mode is too open. With the real file system
// the mode is that of the file opened, so a file swapped between the check
// and the read cannot slip through.
func (l Lookup) readSecretFile(path string) ([]byte, error) {
	if l.ReadFile == nil && l.Stat == nil {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if err := checkSecretMode(path, fi); err != nil {
			return nil, err
		}
		return io.ReadAll(f)
	}
	stat := l.Stat
	if stat == nil {
		stat = os.Stat
	}
	fi, err := stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkSecretMode(path, fi); err != nil {
		return nil, err
	}
	return l.readFile(path)
}
