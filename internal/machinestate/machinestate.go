// Package machinestate names the store entries through which the client
// machine (package machine) finds its own state, so that a package that
// prepares a store for the machine (store/mautriximport) writes them under
// the same names as the machine reads them.
package machinestate

const (
	// PickleKeySecret is the store secret holding the 32-byte key the
	// machine pickles its account and sessions with.
	PickleKeySecret = "sicher.machine.pickle_key"
	// DeviceKeysUploaded is the store value that is "1" once the server
	// accepted the device's keys.
	DeviceKeysUploaded = "sicher.machine.device_keys_up"
)
