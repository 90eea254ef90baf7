package libolm_test

import (
	"os/exec"
	"testing"
)

// TestCorpusUpToDate regenerates the corpus from libolm in check mode: the
// committed JSON must be exactly what libolm produces today.
func TestCorpusUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerating the corpus takes a few seconds")
	}
	out, err := exec.Command("go", "run", "./cmd/gen", "-check").CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./cmd/gen -check: %v\n%s", err, out)
	}
}
