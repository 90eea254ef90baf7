//go:build !race

package aessha2

const raceEnabled = false
