package tenant

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// SecretPrefix starts every API key secret, so scanners and humans recognise one.
const SecretPrefix = "pk-"

// secretBytes is the entropy of a secret: 32 random bytes (256 bits).
const secretBytes = 32

// secretLen is the length of a well-formed secret: prefix + unpadded base64url of 32 bytes.
var secretLen = len(SecretPrefix) + base64.RawURLEncoding.EncodedLen(secretBytes)

// newSecret returns a fresh random secret.
func newSecret() (string, error) {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// newKeyID returns a fresh public key ID ("key_" + 20 hex characters).
func newKeyID() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "key_" + hex.EncodeToString(b[:]), nil
}

// wellFormed reports whether s has the shape of a secret, so malformed input is refused
// before any hashing or store access.
func wellFormed(s string) bool {
	if len(s) != secretLen || !strings.HasPrefix(s, SecretPrefix) {
		return false
	}
	for i := len(SecretPrefix); i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// hashSecret returns SHA-256 of the secret without allocating: the secret is copied into
// a stack buffer (well-formed secrets are 46 bytes).
func hashSecret(s string) [32]byte {
	var buf [64]byte
	if len(s) <= len(buf) {
		n := copy(buf[:], s)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(s))
}

// HashSecret returns the hex SHA-256 of an API key secret, the only form ever stored.
func HashSecret(secret string) string {
	h := hashSecret(secret)
	return hex.EncodeToString(h[:])
}
