package access

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// record is one item of a store file as bytes: its partition and sort keys and its
// encoded value.
type record struct {
	pk, sk string
	value  []byte
}

// storeFile reads every record of a store file the local platform wrote (boltstore's
// layout: bucket "items", keys uvarint(len(PK)) | PK | SK).
func storeFile(t *testing.T, path string) []record {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open %s: %v", filepath.Base(path), err)
	}
	defer db.Close()
	var out []record
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("items"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			n, w := binary.Uvarint(k)
			if w <= 0 || int(n) > len(k)-w {
				t.Fatalf("undecodable key %q", k)
			}
			out = append(out, record{pk: string(k[w : w+int(n)]), sk: string(k[w+int(n):]), value: bytes.Clone(v)})
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// platformPartitions are the pool store's partitions that may name a silo tenant: the
// platform's records about it (the directory, its keys, the audit trail, the workflow
// executions' indexes).
var platformPartitions = []string{"TENANTS", "TENANT#", "APIKEY#", "KEYID#", "IAM", "PLATFORM#KEYS", "AUDIT#", "flowexecs", "flowmachine#", "flowrunning"}

func platformRecord(pk string) bool {
	for _, p := range platformPartitions {
		if strings.HasPrefix(pk, p) {
			return true
		}
	}
	return false
}

// TestSiloDataStaysInItsCell gives a silo tenant (acme) and a pool tenant (globex) every
// kind of resource, stops the platform and reads its data directory: the pool's store
// file holds none of acme's records (only the platform's records about acme: its
// directory entry, keys, audit trail and executions' indexes), no file outside acme's cell is
// acme's, acme's cell holds its records and objects, and no file anywhere holds acme's
// secret in plaintext (the cell is sealed with acme's own key).
func TestSiloDataStaysInItsCell(t *testing.T) {
	w := newWorld(t, "silo", "pool")
	acme, globex := w.res["acme"], w.res["globex"]
	w.close()

	pool := storeFile(t, filepath.Join(w.dir, "plinth.db"))
	globexRecords := 0
	for _, r := range pool {
		if bytes.Contains(r.value, []byte(acme["secret"])) || strings.Contains(r.pk+r.sk, acme["secret"]) {
			t.Errorf("the pool's store file holds acme's secret in %s / %s", r.pk, r.sk)
		}
		if (strings.Contains(r.pk+" "+r.sk, "acme") || bytes.Contains(r.value, []byte(`"acme"`))) && !platformRecord(r.pk) {
			t.Errorf("the pool's store file holds acme's record %s / %s: %.200s", r.pk, r.sk, r.value)
		}
		if strings.Contains(r.pk+" "+r.sk, "globex") && !platformRecord(r.pk) {
			globexRecords++
		}
	}
	// The search finds what is there: the pool tenant's records are in the pool.
	if globexRecords < 10 {
		t.Errorf("the pool's store file holds %d of globex's records; the inspection reads nothing", globexRecords)
	}

	cellDir := filepath.Join(w.dir, "tenants", "acme")
	silo := storeFile(t, filepath.Join(cellDir, "plinth.db"))
	var pks []string
	for _, r := range silo {
		pks = append(pks, r.pk)
		if strings.Contains(r.pk+" "+r.sk, "globex") || bytes.Contains(r.value, []byte(globex["secret"])) {
			t.Errorf("acme's cell holds globex's record %s / %s", r.pk, r.sk)
		}
	}
	for _, want := range []string{"QUOTA#acme", "USAGE#acme#", "USAGEAGG#acme", "RAGKB#acme", "RAGDOC#acme#docs", "EVAL#SUITES", "EVAL#SUITE#acme#",
		"EVAL#RUN#", "REVIEWQ", "REVIEWQ#", "GUARDRAILS", "GUARDRAIL#acme-policy", "REGISTRY#PROMPTS", "REGISTRY#PROMPT#acme-prompt",
		"AGENT#INDEX", "AGENT#DEF#acme-agent", "FT#T#acme", "FT#JOB#", "flowexec#"} {
		if !slices.ContainsFunc(pks, func(pk string) bool { return strings.HasPrefix(pk, want) }) {
			t.Errorf("acme's cell has no %s records", want)
		}
	}

	// No file outside acme's cell holds its secret or is named for it; its blobs are in
	// the cell.
	cellBlobs := 0
	err := filepath.WalkDir(w.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(w.dir, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// Nowhere in plaintext, its own cell included: the cell is sealed with its key.
		if bytes.Contains(b, []byte(acme["secret"])) {
			t.Errorf("%s holds acme's secret", rel)
		}
		if strings.HasPrefix(rel, filepath.Join("tenants", "acme")+string(filepath.Separator)) {
			if strings.Contains(rel, string(filepath.Separator)+"blobs"+string(filepath.Separator)) && !strings.Contains(rel, ".plinth-meta") {
				cellBlobs++
			}
			return nil
		}
		if strings.Contains(filepath.ToSlash(rel), "/acme/") {
			t.Errorf("%s is acme's, outside its cell", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cellBlobs < 5 {
		t.Errorf("acme's cell holds %d blobs (documents, index segments, reports, fine-tuning files)", cellBlobs)
	}
	t.Logf("pool store: %d records; acme's cell: %d records, %d blobs", len(pool), len(silo), cellBlobs)
}
