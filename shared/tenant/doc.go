// Package tenant holds the platform's tenants and their identities: API keys (random
// secrets stored only as SHA-256 hashes), IAM principal mappings, and the one policy
// function that decides which models a caller may invoke.
//
// # Storage layout (single table, see shared/store)
//
//	TENANTS             / <tenant id>        tenant document
//	APIKEY#<sha256 hex> / KEY                authoritative key record, read by Authenticate
//	KEYID#<key id>      / KEY                pointer from the public key ID to tenant and hash
//	TENANT#<id>#KEYS    / K#<key id>         key listing (no secret, no hash)
//	TENANT#<id>#KEYS    / U#<key id>         last-used time, written at most once a minute
//	IAM                 / <principal ARN>    IAM principal → tenant mapping
//
// Creating a key writes its three items in one transaction; revoking rewrites the
// authoritative record and the listing in one transaction.
//
// # Authentication cost
//
// Authenticate hashes the secret (SHA-256, no allocation) and looks the hash up in an
// in-process cache whose entries live at most the configured TTL (60 s by default and at
// most). A hit performs no store round trip and no allocation. A miss costs one store Get
// for the key and one for the tenant. Revocation, tenant suspension and limit changes are
// therefore visible everywhere within the TTL, and immediately on the instance that made
// the change (it drops the affected entries).
package tenant
