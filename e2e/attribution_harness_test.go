package e2e

// Helpers for the user-attribution leak tests (attribution_test.go) and the
// telemetry-never-blocks test (telemetry_noblock_test.go): a gateway started
// with its own environment, a raw read of everything Jaeger stored for a
// service, and needle searches over text.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// tryPost sends one JSON-RPC body to url (protocol 2025-06-18, the given
// session and header pairs) and returns status, session id and body. Unlike
// rawPost it returns transport errors instead of failing the test, and its
// client timeout is per request.
func tryPost(url, sid, body string, timeout time.Duration, headers ...string) (int, string, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{Timeout: timeout}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), string(b), err
}

// jaegerRawTraces polls Jaeger's API v3 for service until at least minSpans
// spans are stored, and returns the raw answer (every attribute, resource,
// link and event as Jaeger stores them, for substring searches) with its
// parsed form. It reports through t (not j.t), so subtests of a test that
// shares one Jaeger can call it.
func jaegerRawTraces(t *testing.T, j *jaeger, service string, minSpans int) ([]byte, []Trace) {
	t.Helper()
	deadline := time.Now().Add(jaegerQueryTimeout)
	var (
		body    []byte
		got     []Trace
		n       int
		lastErr error
	)
	for {
		body, lastErr = j.queryRaw(service)
		if lastErr == nil && body != nil {
			got, lastErr = parseOTLPTraces(body)
		}
		n = 0
		for _, tr := range got {
			n += len(tr.Spans)
		}
		if lastErr == nil && n >= minSpans {
			return body, got
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("jaeger: %d span(s) of service %q after %v, want at least %d (last error: %v)",
		n, service, jaegerQueryTimeout, minSpans, lastErr)
	return nil, nil
}

// userHash computes user.hash independently of mcpgate: lower-case hex
// of the first 16 bytes of HMAC-SHA256(key, issuer + "\n" + subject).
func userHash(key []byte, issuer, subject string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(issuer + "\n" + subject))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// needle is a value that must not leak, and what it is (for messages).
type needle struct {
	what, value string
}

// scrapeOpenMetrics GETs the admin listener's /metrics asking for OpenMetrics
// (the format that carries exemplars) and returns the body and its
// Content-Type.
func scrapeOpenMetrics(admin string) (string, string, error) {
	req, err := http.NewRequest(http.MethodGet, admin+"/metrics", nil)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.9,text/plain;q=0.5")
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("GET /metrics: %d %s", resp.StatusCode, tail(string(b), 300))
	}
	return string(b), resp.Header.Get("Content-Type"), err
}

// promSample returns the sum of the values of the Prometheus text samples
// of metric (the name up to "{" or " ") whose labels contain every one of
// labels (`key="value"` strings), and whether there was one.
func promSample(text, metric string, labels ...string) (float64, bool) {
	var sum float64
	found := false
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, metric+"{") && !strings.HasPrefix(l, metric+" ") {
			continue
		}
		ok := true
		for _, lb := range labels {
			ok = ok && strings.Contains(l, lb)
		}
		if !ok {
			continue
		}
		// "name{labels} value [timestamp] [# exemplar]"
		rest := l[len(metric):]
		if strings.HasPrefix(rest, "{") {
			i := strings.Index(rest, "}")
			if i < 0 {
				continue
			}
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		var v float64
		if _, err := fmt.Sscanf(f[0], "%g", &v); err == nil {
			sum += v
			found = true
		}
	}
	return sum, found
}
