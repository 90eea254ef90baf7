package rustpeer_test

import (
	"testing"
	"time"

	"github.com/sicher-go/sicher/interop/rustpeer"
	"github.com/sicher-go/sicher/machine"
)

// SAS verification between sicher's machine and matrix-sdk-crypto's OlmMachine, each side
// requesting and starting once: the emoji and decimals agree, and both sides mark the other's
// device verified.
func TestVerificationSASWithRust(t *testing.T) {
	for _, sicherStarts := range []bool{true, false} {
		name := map[bool]string{true: "sicher requests and starts", false: "rust requests and starts"}[sicherStarts]
		t.Run(name, func(t *testing.T) {
			d := newDuo(t)
			d.now = time.Now() // the rust machine ignores requests more than ten minutes off its clock
			var v *machine.Verification
			if sicherStarts {
				v = d.sicherRequests()
				if err := v.StartSAS(d.ctx); err != nil {
					t.Fatal(err)
				}
				d.pumpN(2)
				d.rustDo(d.r.AcceptSAS(d.su, v.ID))
			} else {
				v = d.rustRequests()
				d.rustDo(d.r.StartSAS(d.su, v.ID))
			}
			d.pumpN(4)
			d.wantSicher(v, machine.VerificationKeysExchanged)
			code, err := v.SAS(d.ctx)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := d.r.SAS(d.su, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !rs.CanBePresented || len(rs.EmojiIndex) != 7 || len(rs.Decimals) != 3 {
				t.Fatalf("rust SAS state %+v", rs)
			}
			for i, e := range code.Emoji {
				if e.Number != rs.EmojiIndex[i] {
					t.Fatalf("emoji differ: sicher %v, rust %v", code.Emoji, rs.EmojiIndex)
				}
			}
			for i, n := range code.Decimals {
				if n != rs.Decimals[i] {
					t.Fatalf("decimals differ: sicher %v, rust %v", code.Decimals, rs.Decimals)
				}
			}
			reqs, err := d.r.ConfirmSAS(d.su, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reqs {
				d.doRust(r)
			}
			if err := v.ConfirmSAS(d.ctx); err != nil {
				t.Fatal(err)
			}
			d.pumpN(4)
			d.wantSicher(v, machine.VerificationDone)
			d.rustDone(v.ID)
			d.bothVerified()
		})
	}
}

var _ = rustpeer.ToDevice
