package credmask

// Clip cuts s to at most n bytes without splitting a UTF-8 sequence:
// what the masker does to long strings, and what telemetry does to the
// attribute values it bounds.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
