package peer

import "fmt"

// SAS is what a peer shows during SAS verification: the three numbers and
// the names of the seven emoji
// (https://spec.matrix.org/v1.19/client-server-api/#sas-method-emoji).
type SAS struct {
	Decimals []int    `json:"decimals"`
	Emoji    []string `json:"emoji"`
}

// VerifyRequest asks deviceID of userID to verify with the peer's device
// over to-device messages and returns the flow's transaction id (js-sdk
// peer only).
func (p *Peer) VerifyRequest(userID, deviceID string) (string, error) {
	var r struct {
		TransactionID string `json:"transaction_id"`
	}
	err := p.call("verify_request", map[string]string{"user_id": userID, "device_id": deviceID}, &r)
	return r.TransactionID, err
}

// VerifyStartSAS waits until the other side accepted the request, starts
// SAS and returns the codes the peer shows.
func (p *Peer) VerifyStartSAS(txnID string) (SAS, error) {
	var r SAS
	err := p.call("verify_start_sas", map[string]any{"transaction_id": txnID}, &r)
	return r, err
}

// VerifyConfirm confirms that the codes match, waits for the flow to end
// and reports whether the peer now shows the other device as verified.
func (p *Peer) VerifyConfirm(txnID string) (bool, error) {
	var r struct {
		Verified bool   `json:"verified"`
		Status   string `json:"status"`
		Phase    string `json:"phase"`
	}
	err := p.call("verify_confirm", map[string]any{"transaction_id": txnID}, &r)
	if err == nil && !r.Verified {
		return false, fmt.Errorf("peer: verification ended in phase %s with the device's status %s", r.Phase, r.Status)
	}
	return r.Verified, err
}

// BootstrapBackup sets up cross-signing, secret storage and a key backup
// on the peer's account and returns the recovery key (js-sdk peer only).
func (p *Peer) BootstrapBackup() (string, error) {
	var r struct {
		RecoveryKey string `json:"recovery_key"`
	}
	err := p.call("bootstrap_backup", nil, &r)
	return r.RecoveryKey, err
}

// BackupCount returns how many room keys the server's backup holds, after
// the peer's crypto checked its backup.
func (p *Peer) BackupCount() (int, error) {
	var r struct {
		Count int `json:"count"`
	}
	err := p.call("backup_count", nil, &r)
	return r.Count, err
}

// RestoreBackup opens secret storage with the recovery key and restores
// every room key from the backup; it returns how many keys the backup
// held and how many the peer imported.
func (p *Peer) RestoreBackup(recoveryKey string) (total, imported int, err error) {
	var r struct {
		Total    int `json:"total"`
		Imported int `json:"imported"`
	}
	err = p.call("restore_backup", map[string]string{"recovery_key": recoveryKey}, &r)
	return r.Total, r.Imported, err
}
