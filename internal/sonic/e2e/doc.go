// Package e2e holds the Sonic ISO's end-to-end tests: the ISO is built from
// a real Debian kernel, busybox and sonic-runtime, then booted in QEMU (TCG)
// under SeaBIOS and OVMF from CD, hard disk and USB, installed to a blank
// disk and booted from that disk. It has no non-test code.
package e2e
