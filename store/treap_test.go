package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestTreap checks the persistent tree against a map, and that old roots never change.
func TestTreap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var root *node
	want := map[string]int{}
	type snap struct {
		root *node
		m    map[string]int
	}
	var snaps []snap
	for i := range 5000 {
		k := fmt.Sprintf("k%03d", rng.IntN(400))
		if rng.IntN(3) == 0 {
			root = root.remove(k)
			delete(want, k)
		} else {
			root = root.insert(k, i, priority(k))
			want[k] = i
		}
		if i%500 == 0 {
			snaps = append(snaps, snap{root, maps(want)})
		}
	}
	snaps = append(snaps, snap{root, want})
	for _, s := range snaps {
		for k, v := range s.m {
			if got, ok := s.root.get(k); !ok || got.(int) != v {
				t.Fatalf("get(%s) = %v, %v; want %d", k, got, ok, v)
			}
		}
		for _, p := range []string{"", "k1", "k0", "k39", "k999", "j"} {
			var got, exp []int
			s.root.each(p, func(v any) { got = append(got, v.(int)) })
			var keys []string
			for k := range s.m {
				if strings.HasPrefix(k, p) {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				exp = append(exp, s.m[k])
			}
			if !slices.Equal(got, exp) {
				t.Fatalf("each(%q) = %v, want %v", p, got, exp)
			}
		}
	}
}

func maps(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
