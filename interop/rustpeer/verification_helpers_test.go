package rustpeer_test

import (
	"github.com/sicher-go/sicher/interop/rustpeer"
	"github.com/sicher-go/sicher/machine"
)

// pumpN pumps n rounds: verification steps answer each other one sync at a time.
func (d *duo) pumpN(n int) {
	d.t.Helper()
	for range n {
		d.pump()
	}
}

// rustDo sends a request a rust verification call returned.
func (d *duo) rustDo(r *rustpeer.Request, err error) {
	d.t.Helper()
	if err != nil {
		d.t.Fatalf("%v\n%s", err, d.r.Stderr())
	}
	if r != nil {
		d.doRust(*r)
	}
}

func (d *duo) wantSicher(v *machine.Verification, want machine.VerificationState) {
	d.t.Helper()
	if err := v.Refresh(d.ctx); err != nil {
		d.t.Fatal(err)
	}
	if v.State != want {
		d.t.Fatalf("sicher's flow is %s (%s %s), want %s", v.State, v.CancelCode, v.CancelReason, want)
	}
}

// sicherRequests: sicher asks the rust device, rust accepts; the flow is ready on both sides.
func (d *duo) sicherRequests() *machine.Verification {
	d.t.Helper()
	v, err := d.s.RequestVerification(d.ctx, d.ru, d.rd)
	if err != nil {
		d.t.Fatal(err)
	}
	d.pump()
	reqs, err := d.r.VerificationRequests(d.su)
	if err != nil || len(reqs) != 1 || reqs[0].FlowID != v.ID {
		d.t.Fatalf("rust's requests %+v, %v\n%s", reqs, err, d.r.Stderr())
	}
	d.rustDo(d.r.AcceptVerification(d.su, v.ID))
	d.pumpN(2)
	d.wantSicher(v, machine.VerificationReady)
	return v
}

// rustRequests: rust asks the sicher device, sicher accepts.
func (d *duo) rustRequests() *machine.Verification {
	d.t.Helper()
	id, req, err := d.r.RequestVerification(d.su, d.sd)
	d.rustDo(req, err)
	d.pump()
	v, err := d.s.Verification(d.ctx, id)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := v.Accept(d.ctx); err != nil {
		d.t.Fatal(err)
	}
	d.pumpN(2)
	if reqs, _ := d.r.VerificationRequests(d.su); len(reqs) != 1 || reqs[0].Phase != "Ready" {
		d.t.Fatalf("rust's request: %+v", reqs)
	}
	return v
}

// bothVerified checks that each side marks the other's device verified.
func (d *duo) bothVerified() {
	d.t.Helper()
	devs, err := d.s.Devices(d.ctx, d.ru)
	if err != nil {
		d.t.Fatal(err)
	}
	var ok bool
	for _, dev := range devs {
		ok = ok || dev.Keys.DeviceID == d.rd && dev.Verified
	}
	if !ok {
		d.t.Fatalf("sicher does not mark the rust device verified: %+v", devs)
	}
	rd, err := d.r.Device(d.su, d.sd)
	if err != nil || rd == nil || !rd.Verified {
		d.t.Fatalf("rust does not mark the sicher device verified: %+v, %v", rd, err)
	}
}

// rustDone checks that the rust machine's request of a flow is done: listed as done, or
// gone (matrix-sdk-crypto forgets finished requests).
func (d *duo) rustDone(flowID string) {
	d.t.Helper()
	reqs, err := d.r.VerificationRequests(d.su)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, r := range reqs {
		if r.FlowID == flowID {
			if r.Phase != "Done" || !r.Done {
				d.t.Fatalf("rust's request is %+v", r)
			}
			return
		}
	}
}
