package testvectors_test

import (
	"fmt"

	"github.com/sicher-go/sicher/testvectors"
)

// Example reads libolm's own Megolm ratchet vector (V3, from
// tests/test_megolm.cpp) out of the corpus. In a test, use
// testvectors.Load, which fails the test on any error.
func Example() {
	b, err := testvectors.ReadFile("megolm/ratchet.json")
	if err != nil {
		panic(err)
	}
	f, err := testvectors.Decode[testvectors.MegolmRatchet](b)
	if err != nil {
		panic(err)
	}
	v := f.Vectors[0]
	op := v.Ops[0]
	fmt.Println(v.Name, "|", v.Expect)
	fmt.Println(op.Op, op.Counter, op.Data[96:104])
	// Output:
	// V3 advance | ok
	// advance 1 ba9cd955741d1c16
}

// ExampleMeta_Accepts shows how a consumer judges an outcome: the
// expected class or any listed alternative is correct.
func ExampleMeta_Accepts() {
	m := testvectors.Meta{Expect: testvectors.BadBase64, Accept: []string{testvectors.BadFormat}}
	fmt.Println(m.Accepts(testvectors.BadBase64), m.Accepts(testvectors.BadFormat), m.Accepts(testvectors.OK))
	// Output: true true false
}
