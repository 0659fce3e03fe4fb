package awskms_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
)

// fakeKMS speaks AWS KMS's JSON 1.1 protocol (POST /, X-Amz-Target: TrentService.<Op>,
// Content-Type application/x-amz-json-1.1, blobs base64 in JSON, errors as HTTP 400 with
// {"__type": <exception>, "message"}) for the operations the adapter calls, keeping keys
// and their states as KMS does. Requests must be SigV4-signed.
type fakeKMS struct {
	t    *testing.T
	mu   sync.Mutex
	keys map[string]*fakeKey
	n    int
	ops  []string
}

type fakeKey struct {
	id, arn, state string
	material       []byte
}

func newFakeKMS(t *testing.T) *fakeKMS { return &fakeKMS{t: t, keys: map[string]*fakeKey{}} }

type kmsError struct{ typ, msg string }

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "TrentService.")
	if r.Method != http.MethodPost || r.URL.Path != "/" || !ok {
		http.Error(w, "not a KMS request: "+r.Method+" "+r.URL.Path+" "+target, http.StatusBadRequest)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		f.fail(w, kmsError{"SerializationException", "Content-Type " + ct})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=") || !strings.Contains(r.Header.Get("Authorization"), "/kms/aws4_request") {
		f.fail(w, kmsError{"UnrecognizedClientException", "the request is not signed for kms"})
		return
	}
	var in map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		f.fail(w, kmsError{"SerializationException", err.Error()})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	var out any
	var kerr *kmsError
	switch op {
	case "CreateKey":
		out, kerr = f.createKey(in)
	case "GenerateDataKey":
		out, kerr = f.generateDataKey(in)
	case "Decrypt":
		out, kerr = f.decrypt(in)
	case "DisableKey", "EnableKey":
		out, kerr = f.setState(in, map[string]string{"DisableKey": "Disabled", "EnableKey": "Enabled"}[op])
	case "ScheduleKeyDeletion":
		out, kerr = f.scheduleDeletion(in)
	default:
		kerr = &kmsError{"UnknownOperationException", op}
	}
	if kerr != nil {
		f.fail(w, *kerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeKMS) fail(w http.ResponseWriter, e kmsError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "message": e.msg})
}

func str(in map[string]json.RawMessage, name string) string {
	var s string
	_ = json.Unmarshal(in[name], &s)
	return s
}

func (f *fakeKMS) key(in map[string]json.RawMessage) (*fakeKey, *kmsError) {
	id := str(in, "KeyId")
	for _, k := range f.keys {
		if k.id == id || k.arn == id {
			return k, nil
		}
	}
	return nil, &kmsError{"NotFoundException", "Key '" + id + "' does not exist"}
}

func (f *fakeKMS) usable(k *fakeKey) *kmsError {
	switch k.state {
	case "Enabled":
		return nil
	case "Disabled":
		return &kmsError{"DisabledException", k.arn + " is disabled."}
	default:
		return &kmsError{"KMSInvalidStateException", k.arn + " is pending deletion."}
	}
}

func (f *fakeKMS) createKey(in map[string]json.RawMessage) (any, *kmsError) {
	if spec := str(in, "KeySpec"); spec != "" && spec != "SYMMETRIC_DEFAULT" {
		return nil, &kmsError{"ValidationException", "KeySpec " + spec}
	}
	f.n++
	id := fmt.Sprintf("1234abcd-12ab-34cd-56ef-%012d", f.n)
	k := &fakeKey{id: id, arn: "arn:aws:kms:us-east-1:111122223333:key/" + id, state: "Enabled", material: make([]byte, 32)}
	_, _ = rand.Read(k.material)
	f.keys[id] = k
	return map[string]any{"KeyMetadata": map[string]any{"KeyId": k.id, "Arn": k.arn, "KeyState": k.state, "Enabled": true,
		"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Description": str(in, "Description")}}, nil
}

// encCtx is the canonical form of an encryption context, bound to a ciphertext.
func encCtx(in map[string]json.RawMessage) []byte {
	var m map[string]string
	_ = json.Unmarshal(in["EncryptionContext"], &m)
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "%q=%q;", n, m[n])
	}
	return b.Bytes()
}

func gcm(k *fakeKey) cipher.AEAD {
	block, _ := aes.NewCipher(k.material)
	a, _ := cipher.NewGCM(block)
	return a
}

func (f *fakeKMS) generateDataKey(in map[string]json.RawMessage) (any, *kmsError) {
	k, e := f.key(in)
	if e != nil {
		return nil, e
	}
	if e := f.usable(k); e != nil {
		return nil, e
	}
	if spec := str(in, "KeySpec"); spec != "AES_256" {
		return nil, &kmsError{"ValidationException", "KeySpec must be AES_256 here, got " + spec}
	}
	plain := make([]byte, 32)
	_, _ = rand.Read(plain)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	// The ciphertext names its key, as KMS's do.
	blob := append([]byte(k.id+"|"), gcm(k).Seal(nonce, nonce, plain, encCtx(in))...)
	return map[string]any{"KeyId": k.arn, "Plaintext": plain, "CiphertextBlob": blob}, nil
}

func (f *fakeKMS) decrypt(in map[string]json.RawMessage) (any, *kmsError) {
	var blob []byte
	_ = json.Unmarshal(in["CiphertextBlob"], &blob)
	owner, sealed, ok := bytes.Cut(blob, []byte("|"))
	if !ok || len(sealed) < 28 {
		return nil, &kmsError{"InvalidCiphertextException", ""}
	}
	k, e := f.key(in)
	if e != nil {
		return nil, e
	}
	if string(owner) != k.id {
		return nil, &kmsError{"IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation."}
	}
	if e := f.usable(k); e != nil {
		return nil, e
	}
	plain, err := gcm(k).Open(nil, sealed[:12], sealed[12:], encCtx(in))
	if err != nil {
		return nil, &kmsError{"InvalidCiphertextException", ""}
	}
	return map[string]any{"KeyId": k.arn, "Plaintext": plain, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

func (f *fakeKMS) setState(in map[string]json.RawMessage, state string) (any, *kmsError) {
	k, e := f.key(in)
	if e != nil {
		return nil, e
	}
	if k.state == "PendingDeletion" {
		return nil, &kmsError{"KMSInvalidStateException", k.arn + " is pending deletion."}
	}
	k.state = state
	return struct{}{}, nil
}

func (f *fakeKMS) scheduleDeletion(in map[string]json.RawMessage) (any, *kmsError) {
	k, e := f.key(in)
	if e != nil {
		return nil, e
	}
	var days int
	_ = json.Unmarshal(in["PendingWindowInDays"], &days)
	if days < 7 || days > 30 {
		return nil, &kmsError{"ValidationException", "PendingWindowInDays must be between 7 and 30"}
	}
	k.state = "PendingDeletion"
	return map[string]any{"KeyId": k.arn, "KeyState": k.state, "PendingWindowInDays": days, "DeletionDate": 1.7e9}, nil
}
