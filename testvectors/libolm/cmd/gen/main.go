// Command gen regenerates the libolm-derived files of sicher's conformance
// corpus (testvectors/*/*.json) from Debian's libolm 3.2.13 through cgo.
//
// Every random input is fixed (libolm's MockRandom or the corpus Stream),
// so the output is byte-for-byte reproducible: run it from
// testvectors/libolm with
//
//	go run ./cmd/gen            # rewrite the corpus
//	go run ./cmd/gen -check     # fail if the committed corpus differs
//
// Upstream fixed vectors (libolm's and vodozemac's tests) are written too,
// after libolm has been checked to agree with each of them.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	tv "github.com/sicher-go/sicher/testvectors"
	"github.com/sicher-go/sicher/testvectors/libolm"
)

// Sources named in the corpus.
const (
	srcLibolm     = "libolm 3.2.13 via testvectors/libolm (cmd/gen)"
	srcLibolmMock = "libolm 3.2.13 via testvectors/libolm (cmd/gen), MockRandom"
	srcDerived    = "derived by testvectors/libolm (cmd/gen) from libolm 3.2.13 output, accepted by libolm 3.2.13"
	generator     = "cd testvectors/libolm && go run ./cmd/gen"
)

type output struct {
	name string
	data any
	n    int
}

var outputs []output

// emit registers a corpus file.
func emit[V any](name, format, description string, vectors []V) {
	checkNames(name, vectors)
	outputs = append(outputs, output{name, tv.File[V]{
		Format:      format,
		Description: description,
		Generator:   generator,
		Vectors:     vectors,
	}, len(vectors)})
}

func checkNames[V any](file string, vectors []V) {
	seen := map[string]bool{}
	for _, v := range vectors {
		b, _ := json.Marshal(v)
		var m struct{ Name, Expect string }
		_ = json.Unmarshal(b, &m)
		if m.Name == "" || seen[m.Name] {
			fatalf("%s: missing or duplicate vector name %q", file, m.Name)
		}
		if m.Expect == "" {
			fatalf("%s: %s: no expect", file, m.Name)
		}
		seen[m.Name] = true
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gen: "+format+"\n", args...)
	os.Exit(1)
}

func must[T any](v T, err error) T {
	if err != nil {
		fatalf("%v", err)
	}
	return v
}

func check(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

func main() {
	out := flag.String("out", "..", "corpus directory (testvectors/)")
	checkOnly := flag.Bool("check", false, "compare with the files on disk instead of writing")
	flag.Parse()

	if maj, min, pat := libolm.Version(); maj != 3 || min != 2 {
		fatalf("libolm %d.%d.%d: want 3.2.x", maj, min, pat)
	}

	genPrimitives()
	genBase64()
	genMegolmRatchet()
	genMegolmSessions()
	genOlm()
	genSAS()
	genPK()
	genPickles()

	sort.Slice(outputs, func(i, j int) bool { return outputs[i].name < outputs[j].name })
	total, stale := 0, 0
	for _, o := range outputs {
		b, err := json.MarshalIndent(o.data, "", "  ")
		check(err)
		b = append(b, '\n')
		path := filepath.Join(*out, filepath.FromSlash(o.name))
		total += o.n
		if *checkOnly {
			old, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(old, b) {
				fmt.Printf("STALE %-40s %5d vectors\n", o.name, o.n)
				stale++
			}
			continue
		}
		check(os.MkdirAll(filepath.Dir(path), 0o755))
		check(os.WriteFile(path, b, 0o644))
		fmt.Printf("%-40s %5d vectors\n", o.name, o.n)
	}
	fmt.Printf("%d files, %d vectors\n", len(outputs), total)
	if stale > 0 {
		fatalf("%d files differ from the generator's output", stale)
	}
}
