// Package faults holds boxoffice's fault suite: each test runs an on-sale
// (cmd/loadgen's onsale scenario) against three boxoffice instances on a
// MariaDB and a Redis of the suite's own, every connection to them through
// a toxiproxy proxy, injects one fault, and checks safety (no ticket sold
// twice, no answered reservation lost, the sales view balances) and
// liveness (soon after the fault ends, admission runs at its pace again
// and the sale finishes).
//
// The suite runs only when BOXOFFICE_FAULTS is "short" or "long"; see
// RELIABILITY.md at the repository root.
package faults
