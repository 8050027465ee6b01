// Package nodecert is a civicard cluster's certificate authority and the
// certificates its nodes present to each other.
//
// Every link between nodes is mutually authenticated: a node accepts a
// connection on its Raft port only from a peer presenting a certificate
// signed by the cluster's CA, and presents its own when it dials. The CA
// lives in the cluster's secrets directory (the --secrets directory the
// nodes share, where the terminal credential key and the operator token
// already are):
//
//	ca.crt            the CA certificate: every node trusts it
//	ca.key            the CA's private key, with its certificate
//	node-<name>.crt   a node's certificate (CN and DNS name: the node's name)
//	node-<name>.key   its private key
//
// An operator creates the CA with `civicard admin ca init` and issues a
// node's certificate with `civicard admin ca issue`. A node that starts
// without a certificate issues its own from ca.key (Ensure), and the first
// node of a cluster whose secrets directory has no CA creates it: a
// cluster started on a shared secrets directory needs no step of its own,
// exactly as for the other secrets. An operator who keeps ca.key off the
// nodes issues every certificate beforehand and copies ca.crt and the
// node's own pair to it.
//
// Why a CA of our own and the standard library: the trust is the cluster's
// and nobody else's (a public CA would let anyone with a certificate for
// any name in); crypto/x509 and crypto/tls do all of it: ECDSA P-256 keys,
// TLS 1.3 only.
//
// Rotation: a Source reads the node's pair again when its files change, so
// writing a new pair (issue again, or copy one in) is taken by the next
// connection made or accepted, with no restart; connections already open
// keep the certificate they were made with. The CA is read once, at start.
package nodecert
