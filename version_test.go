package sicher

import (
	"regexp"
	"testing"
)

// TestVersionIsSemver checks that Version is a plain semantic version
// (https://semver.org/): MAJOR.MINOR.PATCH, optionally with a pre-release.
func TestVersionIsSemver(t *testing.T) {
	semver := regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)
	if !semver.MatchString(Version) {
		t.Errorf("Version = %q, not MAJOR.MINOR.PATCH", Version)
	}
}
