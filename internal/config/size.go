package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the accepted byte-size suffixes: binary units only.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"GiB", 1 << 30},
	{"MiB", 1 << 20},
	{"KiB", 1 << 10},
	{"B", 1},
}

// parseSize parses a byte size: a plain non-negative integer, or an integer
// followed by B, KiB, MiB or GiB (an optional space in between), e.g. "4MiB".
func parseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(strings.TrimSuffix(s, u.suffix), " "), u.mult
			break
		}
	}
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return 0, fmt.Errorf("invalid size %s (an integer number of bytes, or an integer with B, KiB, MiB or GiB, e.g. 4MiB; decimal units such as MB are not accepted)", shorten(s))
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %s is too large", shorten(s))
	}
	return n * mult, nil
}

// formatSize renders n with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range sizeUnits {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
