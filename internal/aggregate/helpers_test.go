package aggregate

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"
)

func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

func validUTF8(s string) bool { return utf8.ValidString(s) }
