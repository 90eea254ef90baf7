// Package newcomer holds no code: its test is the TI-Messenger practice
// simulation a new user of sicher writes from the docs alone.
package newcomer
