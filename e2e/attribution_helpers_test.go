package e2e

// Helpers of the user-attribution leak tests (attribution_test.go,
// attribution_aggregate_test.go): the expected user.hash, the needles that
// must not leak, and the Prometheus samples they search.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

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
