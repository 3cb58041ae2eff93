//go:build !unix

package config

import "io/fs"

// Elsewhere (Windows) permission bits do not say who can read a file.
const modesApply = false

func ownedByRoot(fs.FileInfo) bool { return false }
