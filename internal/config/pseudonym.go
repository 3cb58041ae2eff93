package config

import (
	"errors"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/mcpgate/mcpgate/internal/pseudonym"
)

// Pseudonymization holds the keys of the keyed pseudonyms that telemetry
// attribution (userAttribution: hashed), the audit log (audit.principal:
// hashed) and the rate limits' per-caller buckets (per: principal,
// principal+tool) use.
type Pseudonymization struct {
	Keys []SecretKey // keys: the first is active; ids label the epoch
}

// SecretKey is one key — a pseudonymization key or a session key — read
// from a file or an environment variable when the configuration is
// loaded, never written inline.
type SecretKey struct {
	ID     string // id: [A-Za-z0-9._-]{1,32}
	File   string // file: path of a file holding the key (base64)
	Env    string // env: name of a variable holding the key (base64)
	Secret Secret // the decoded key
}

// Secret is key material. It formats as "[redacted]" so that printing a
// Config — in a log line, a test failure — never shows it.
type Secret []byte

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// PseudonymKeys returns the keys for package pseudonym.
func (p *Pseudonymization) PseudonymKeys() []pseudonym.Key {
	keys := make([]pseudonym.Key, len(p.Keys))
	for i, k := range p.Keys {
		keys[i] = pseudonym.Key{ID: k.ID, Secret: k.Secret}
	}
	return keys
}

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

func (d *decoder) pseudonymization(p *Pseudonymization) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		d.mapping(n, path, []field{
			{"keys", d.keyList(&p.Keys)},
		})
	}
}

// keyList decodes a list of keys ({id, file|env}) and reads each key's
// material.
func (d *decoder) keyList(keys *[]SecretKey) func(*yaml.Node, string) {
	return func(n *yaml.Node, lp string) {
		*keys = []SecretKey{}
		d.list(n, lp, "a list of keys", func(it *yaml.Node, ip string) {
			*keys = append(*keys, SecretKey{})
			k := &(*keys)[len(*keys)-1]
			if isNull(it) {
				d.errorf(it.Line, ip, "expected a key mapping (id, file or env), got null")
				return
			}
			d.mapping(it, ip, []field{
				{"id", d.str(&k.ID)},
				{"file", d.filePath(&k.File)},
				{"env", d.str(&k.Env)},
			})
			d.readKey(it.Line, ip, k)
		})
	}
}

// readKey loads a key's material when the file is loaded, so that a
// missing or malformed key is reported with its file, line and key path,
// and a gateway that needs it refuses to start.
func (d *decoder) readKey(line int, path string, k *SecretKey) {
	var text string
	switch {
	case k.File != "" && k.Env != "":
		d.errorf(line, path, "set file or env, not both")
		return
	case k.File != "":
		b, err := d.look.readSecretFile(k.File)
		if me := (*secretModeError)(nil); errors.As(err, &me) {
			d.errorf(line, path+".file", "key file %q %v", k.File, err)
			return
		}
		if err != nil {
			d.errorf(line, path+".file", "cannot read the key: %v", unwrapPathError(err))
			return
		}
		text = string(b)
	case k.Env != "":
		v, ok := d.look.getenv(k.Env)
		if !ok {
			d.errorf(line, path+".env", "environment variable %s is not set", k.Env)
			return
		}
		text = v
	default:
		d.errorf(line, path, "set file or env: keys are never written in the configuration")
		return
	}
	secret, err := pseudonym.ParseKey(text)
	if err != nil {
		src := "file " + k.File
		if k.Env != "" {
			src = "variable " + k.Env
		}
		d.errorf(line, path, "%s: %v", src, err)
		return
	}
	k.Secret = secret
}

func (v *validator) pseudonymization(p *Pseudonymization) {
	v.keyList("pseudonymization.keys", p.Keys, keyIDRE, "letters, digits, '.', '_' or '-'", "it appears next to every pseudonym")
}

// keyList checks the ids of a key list: present, well-formed by idRE
// (described by chars), unique. why says what the id is for.
func (v *validator) keyList(prefix string, keys []SecretKey, idRE *regexp.Regexp, chars, why string) {
	seen := map[string]int{}
	for i, k := range keys {
		path := joinIndex(prefix, i)
		switch {
		case k.ID == "":
			v.errorf(path+".id", "required: a short label such as k1; %s", why)
		case !idRE.MatchString(k.ID):
			v.errorf(path+".id", "must be 1 to 32 %s", chars)
		default:
			if first, dup := seen[k.ID]; dup {
				v.errorf(path+".id", "duplicate id (also %s[%d])", prefix, first)
			}
			seen[k.ID] = i
		}
		if k.Env != "" && !validEnvRefName(k.Env) {
			v.errorf(path+".env", "invalid variable name %q", k.Env)
		}
	}
}
