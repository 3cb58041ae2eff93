package authn

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// MetadataPath is the RFC 9728 well-known path of protected-resource
// metadata; for a resource with a path it is followed by that path.
const MetadataPath = "/.well-known/oauth-protected-resource"

// Metadata is the RFC 9728 protected-resource metadata document.
type Metadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// MetadataURL returns where the metadata of resource is published (RFC 9728
// §3.1): the well-known path inserted between the resource's origin and its
// path, e.g. https://gw.example.com/.well-known/oauth-protected-resource/mcp
// for https://gw.example.com/mcp.
func MetadataURL(resource string) (string, error) {
	u, err := url.Parse(resource)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("resource %q is not an absolute URL", resource)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("resource %q must not have a query or fragment", resource)
	}
	return u.Scheme + "://" + u.Host + MetadataPath + strings.TrimSuffix(u.EscapedPath(), "/"), nil
}

// MetadataPaths returns the paths at which MetadataHandler answers: the
// well-known path with the resource's path appended (the form clients
// derive from the resource URL), and the bare well-known path (which
// older clients try).
func (a *Authenticator) MetadataPaths() []string {
	paths := []string{MetadataPath}
	if a.metadataPath != MetadataPath {
		paths = append([]string{a.metadataPath}, paths...)
	}
	return paths
}

// MetadataHandler serves the protected-resource metadata at the paths of
// MetadataPaths (GET and HEAD). The document is public: it is served
// without authentication and with Access-Control-Allow-Origin: * so that
// browser-based clients can read it.
func (a *Authenticator) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != a.metadataPath && r.URL.Path != MetadataPath {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodOptions:
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Allow-Methods", "GET, HEAD")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(a.metadata)
	})
}

func (a *Authenticator) buildMetadata(o *Options) error {
	m := Metadata{
		Resource:               o.Resource,
		AuthorizationServers:   o.AuthorizationServers,
		BearerMethodsSupported: []string{"header"},
		ScopesSupported:        o.ScopesSupported,
		ResourceName:           o.ResourceName,
	}
	if len(m.AuthorizationServers) == 0 {
		for _, is := range o.Issuers {
			m.AuthorizationServers = append(m.AuthorizationServers, is.Issuer)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	a.metadata = append(b, '\n')
	return nil
}
