//go:build !unix

package cli

func sendHUP() bool { return false }
