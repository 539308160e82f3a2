// Package testport picks ports for servers a test starts later, as real
// processes or listeners bound by address.
//
// A port the kernel handed out for ":0" and that the test released is
// free again, and it lies in the ephemeral range: any outgoing connection
// made before the server binds it can be given the same port, and the
// server then fails to start with "address already in use". Free picks
// below the ephemeral range instead, where the kernel never hands out a
// port on its own, and checks TCP and UDP (gossip binds both).
package testport
