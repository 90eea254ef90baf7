//go:build !race

package secretstorage

const raceEnabled = false
