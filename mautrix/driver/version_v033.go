//go:build !mautrix_v032

package driver

// registerVersion has nothing to set: mautrix v0.33 removed olm.GetVersion.
// With v0.32, build with -tags mautrix_v032 to set it (without the tag,
// v0.32's olm.Version keeps what the default driver registered, the same
// 3.2.15).
func registerVersion() {}
