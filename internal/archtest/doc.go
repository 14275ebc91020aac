// Package archtest holds the test that keeps docs/ARCHITECTURE.md true: the
// import rules between layers and the rules every library package follows
// (never prints, never exits, never reads the environment). It has no code
// of its own; the rules live in arch_test.go so that breaking one fails CI.
package archtest
