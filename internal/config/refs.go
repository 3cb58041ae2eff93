package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Lookup supplies the environment and file system to reference resolution.
// A nil field means the real one: os.LookupEnv, os.ReadFile, os.Stat. Stat
// gives the mode of files that hold secrets (secretfile.go).
type Lookup struct {
	Getenv   func(name string) (string, bool)
	ReadFile func(path string) ([]byte, error)
	Stat     func(path string) (fs.FileInfo, error)
}

func (l Lookup) getenv(name string) (string, bool) {
	if l.Getenv == nil {
		return os.LookupEnv(name)
	}
	return l.Getenv(name)
}

func (l Lookup) readFile(path string) ([]byte, error) {
	if l.ReadFile == nil {
		return os.ReadFile(path)
	}
	return l.ReadFile(path)
}

// resolveRefs expands ${env:NAME} and ${file:PATH} in s and turns $${ into ${.
// dir is the directory relative file paths are resolved against. It reports
// whether s contained any reference (an escape alone does not count). Error
// messages name the reference, never a resolved value. found, when not nil,
// is told each reference as written and the value it resolved to.
func resolveRefs(s, dir string, look Lookup, found func(ref, value string)) (out string, hadRef bool, err error) {
	if !strings.Contains(s, "${") {
		return s, false, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' { // $${ → literal ${
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		s = s[i+2:]
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", false, fmt.Errorf("unterminated reference %s (a reference is ${env:NAME} or ${file:PATH}; write $${ for a literal ${)", shorten("${"+s))
		}
		ref := s[:end]
		s = s[end+1:]
		kind, arg, _ := strings.Cut(ref, ":")
		switch kind {
		case "env":
			if !validEnvRefName(arg) {
				return "", false, fmt.Errorf("invalid environment variable name %s in ${env:…} (letters, digits and _, not starting with a digit)", shorten(arg))
			}
			v, ok := look.getenv(arg)
			if !ok {
				return "", false, fmt.Errorf("environment variable %s is not set (referenced as ${env:%s})", arg, arg)
			}
			b.WriteString(v)
			if found != nil {
				found("${"+ref+"}", v)
			}
		case "file":
			if arg == "" {
				return "", false, fmt.Errorf("empty path in ${file:}")
			}
			p := arg
			if !filepath.IsAbs(p) && dir != "" && dir != "." {
				p = filepath.Join(dir, p)
			}
			data, err := look.readSecretFile(p)
			if me := (*secretModeError)(nil); errors.As(err, &me) {
				return "", false, fmt.Errorf("file %q referenced as ${file:%s} %w", p, arg, err)
			}
			if err != nil {
				return "", false, fmt.Errorf("cannot read file %q referenced as ${file:%s}: %v", p, arg, unwrapPathError(err))
			}
			v := string(data)
			if strings.HasSuffix(v, "\n") {
				v = strings.TrimSuffix(strings.TrimSuffix(v, "\n"), "\r")
			}
			b.WriteString(v)
			if found != nil {
				found("${"+ref+"}", v)
			}
		default:
			return "", false, fmt.Errorf("unknown reference %s (a reference is ${env:NAME} or ${file:PATH}; write $${ for a literal ${)", shorten("${"+ref+"}"))
		}
		hadRef = true
	}
	return b.String(), hadRef, nil
}

// unwrapPathError drops the *os.PathError wrapper, whose message repeats the path.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func validEnvRefName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
