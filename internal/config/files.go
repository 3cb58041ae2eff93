package config

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CheckFiles checks what Validate cannot because it touches the file system:
// the listener's certificate and key load as a pair; each backend's CA file
// holds PEM certificates and its client certificate and key load as a pair;
// a command backend's dir is a directory and its program can be found (in
// PATH, or relative to dir if it contains a slash). Call it after Validate,
// at startup. Its messages are redacted (Redact): the paths and programs it
// names may come from references.
func (c *Config) CheckFiles() error {
	v := &validator{m: c.meta}
	if c.TLS.CertFile != "" && c.TLS.KeyFile != "" {
		if _, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile); err != nil {
			v.errorf("tls", "cannot load certificate %q and key %q: %v", c.TLS.CertFile, c.TLS.KeyFile, unwrapPathError(err))
		}
	}
	for i := range c.Backends {
		b := &c.Backends[i]
		p := joinIndex("backends", i)
		if f := b.TLS.CAFile; f != "" {
			data, err := os.ReadFile(f)
			switch {
			case err != nil:
				v.errorf(p+".tls.caFile", "cannot read %q: %v", f, unwrapPathError(err))
			case !x509.NewCertPool().AppendCertsFromPEM(data):
				v.errorf(p+".tls.caFile", "no PEM certificates found in %q", f)
			}
		}
		if b.TLS.CertFile != "" && b.TLS.KeyFile != "" {
			if _, err := tls.LoadX509KeyPair(b.TLS.CertFile, b.TLS.KeyFile); err != nil {
				v.errorf(p+".tls", "cannot load client certificate %q and key %q: %v", b.TLS.CertFile, b.TLS.KeyFile, unwrapPathError(err))
			}
		}
		if b.Dir != "" {
			if fi, err := os.Stat(b.Dir); err != nil {
				v.errorf(p+".dir", "%q: %v", b.Dir, unwrapPathError(err))
			} else if !fi.IsDir() {
				v.errorf(p+".dir", "%q is not a directory", b.Dir)
			}
		}
		if len(b.Command) > 0 && b.Command[0] != "" {
			prog := b.Command[0]
			if strings.ContainsRune(prog, filepath.Separator) || strings.Contains(prog, "/") {
				if !filepath.IsAbs(prog) && b.Dir != "" {
					prog = filepath.Join(b.Dir, prog)
				}
				if fi, err := os.Stat(prog); err != nil {
					v.errorf(joinIndex(p+".command", 0), "%q: %v", prog, unwrapPathError(err))
				} else if fi.IsDir() || fi.Mode()&0o111 == 0 {
					v.errorf(joinIndex(p+".command", 0), "%q is not an executable file", prog)
				}
			} else if _, err := exec.LookPath(prog); err != nil {
				v.errorf(joinIndex(p+".command", 0), "program %q not found in PATH", prog)
			}
		}
	}
	for _, e := range v.errs.errs {
		if e, ok := e.(*Error); ok {
			e.Msg = c.Redact(e.Msg)
		}
	}
	return v.errs.err()
}
