package parity

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/plinth-ai/plinth/shared/cellmove"
	"github.com/plinth-ai/plinth/shared/platform"
)

// canon renders a DynamoDB attribute value in one canonical text, to compare items.
func canon(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberB:
		return "B:" + base64.StdEncoding.EncodeToString(v.Value)
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprintf("BOOL:%v", v.Value)
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberSS:
		s := slices.Sorted(slices.Values(v.Value))
		return "SS:" + strings.Join(s, "\x00")
	case *types.AttributeValueMemberNS:
		s := slices.Sorted(slices.Values(v.Value))
		return "NS:" + strings.Join(s, "\x00")
	case *types.AttributeValueMemberL:
		parts := make([]string, len(v.Value))
		for i, e := range v.Value {
			parts[i] = canon(e)
		}
		return "L:[" + strings.Join(parts, ",") + "]"
	case *types.AttributeValueMemberM:
		return "M:{" + canonItem(v.Value) + "}"
	}
	return fmt.Sprintf("%T", av)
}

func canonItem(item map[string]types.AttributeValue) string {
	keys := make([]string, 0, len(item))
	for k := range item {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%q=%s;", k, canon(item[k]))
	}
	return b.String()
}

// tableItems reads every item of a table: "pk\x00sk" → the item in canonical text.
func tableItems(t *testing.T, db *dynamodb.Client, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			pk, _ := it["pk"].(*types.AttributeValueMemberS)
			sk, _ := it["sk"].(*types.AttributeValueMemberS)
			// "v" is the store's optimistic-concurrency version, which a copy starts
			// again; everything else must be the same.
			delete(it, "v")
			// The move's copies into the silo's documents bucket are S3 events that run
			// ingestion again (as the stack's rule does); it finds each document
			// unchanged and only stamps its record's updated_at.
			if b, ok := it["data"].(*types.AttributeValueMemberB); ok && strings.HasPrefix(pk.Value, "RAGDOC#") {
				var doc map[string]any
				if json.Unmarshal(b.Value, &doc) == nil {
					delete(doc, "updated_at")
					// It also records the bucket the document now lives in (checked
					// through the API after the move).
					if uri, ok := doc["source_uri"].(string); ok {
						doc["source_uri"] = strings.Replace(uri, "s3://"+siloDocuments+"/", "s3://"+documentsBucket+"/", 1)
					}
					nb, _ := json.Marshal(doc)
					it["data"] = &types.AttributeValueMemberB{Value: nb}
				}
			}
			out[pk.Value+"\x00"+sk.Value] = canonItem(it)
		}
	}
	return out
}

// bucketObjects reads every object of a bucket: key → content.
func bucketObjects(t *testing.T, c *s3.Client, bucket string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[aws.ToString(o.Key)] = string(b)
		}
	}
	return out
}

// siloOf pairs each pool bucket with the silo tenant's counterpart.
var siloOf = map[string]string{documentsBucket: siloDocuments, indexBucket: siloIndex, evalBucket: siloEval, customizationBucket: siloCustomization}

// deployment is what the emulated deployment's tables and buckets hold at one moment.
type deployment struct {
	pool, silo map[string]string            // table items
	objects    map[string]map[string]string // bucket → key → content
}

func snapshot(t *testing.T, rt *awsRT) deployment {
	t.Helper()
	d := deployment{pool: tableItems(t, rt.ddb, table), silo: tableItems(t, rt.ddb, siloTable), objects: map[string]map[string]string{}}
	for pool, silo := range siloOf {
		d.objects[pool] = bucketObjects(t, rt.s3, pool)
		d.objects[silo] = bucketObjects(t, rt.s3, silo)
	}
	return d
}

// lossless checks a moment of the move against the deployment before it: every record
// and object the pool had is still in the pool or, identical, in the silo tenant's table
// or counterpart bucket (a pool copy is gone only once the silo copy is there); the silo
// holds nothing the pool did not have and, once the move is done, nothing is in both.
// It returns how many records and objects are in the silo.
func lossless(t *testing.T, before, now deployment, done bool) (records, objects int) {
	t.Helper()
	for k, item := range before.pool {
		_, inPool := now.pool[k]
		siloItem, inSilo := now.silo[k]
		switch {
		case !inPool && !inSilo:
			t.Errorf("record %q was lost", k)
		case inSilo && siloItem != item:
			t.Errorf("record %q differs in the silo table:\n%s\nwas\n%s", k, siloItem, item)
		case inSilo && inPool && done:
			t.Errorf("record %q is in both tables after the move", k)
		}
	}
	for k := range now.silo {
		if _, ok := before.pool[k]; !ok {
			t.Errorf("the silo table holds %q, which the pool did not have", k)
		}
		records++
	}
	for pool, silo := range siloOf {
		for key, body := range before.objects[pool] {
			_, inPool := now.objects[pool][key]
			siloBody, inSilo := now.objects[silo][key]
			switch {
			case !inPool && !inSilo:
				t.Errorf("object %s/%s was lost", pool, key)
			case inSilo && siloBody != body:
				t.Errorf("object %s/%s differs in %s", pool, key, silo)
			case inSilo && inPool && done:
				t.Errorf("object %s is in both %s and %s after the move", key, pool, silo)
			}
		}
		for key := range now.objects[silo] {
			if _, ok := before.objects[pool][key]; !ok {
				t.Errorf("%s holds %s, which %s did not have", silo, key, pool)
			}
			objects++
		}
	}
	return records, objects
}

// TestSiloMigrationOnAWS moves a pool tenant into the table and buckets the deployment
// gave it (PLINTH_SILO_TENANTS) through the AWS admin function, over DynamoDB (minidyn)
// and S3 (gofakes3): POST /admin/tenants/{id}/migration runs one step per call and
// reports progress; the tenant answers 503 on the other functions while it moves; a run
// killed half-way through deleting the pool's copies resumes; nothing is lost or
// duplicated, a pool copy is deleted only once its silo copy is there, and afterwards the
// tenant's documents answer from its own cell while another pool tenant's are untouched.
func TestSiloMigrationOnAWS(t *testing.T) {
	rt := newAWS(t, newEnv(t))
	ctx := context.Background()
	admin := func(method, path string, body any, want ...int) reply {
		t.Helper()
		c := call{Method: method, Path: path, Admin: true}
		if body != nil {
			c.Body, c.ContentType = jsonBody(body), "application/json"
		}
		r := rt.do(t, c)
		if !slices.Contains(want, r.Status) {
			t.Fatalf("%s %s: %d %s, want %v", method, path, r.Status, r.Body, want)
		}
		return r
	}
	keys := map[string]string{}
	// The silo tenant starts in the pool: the deployment already has its table and
	// buckets, which it moves into.
	for _, id := range []string{siloTenant, "acme"} {
		admin("POST", "/admin/tenants", map[string]any{"id": id, "name": id, "allowed_models": []string{"local-chat", "local-embed"}}, http.StatusCreated)
		var k struct {
			Key string `json:"key"`
		}
		admin("POST", "/admin/tenants/"+id+"/keys", map[string]any{}, http.StatusCreated).decode(t, &k)
		keys[id] = k.Key
		admin("POST", "/admin/knowledge-bases", map[string]any{"tenant": id, "id": "docs"}, http.StatusCreated)
	}
	multipartBody := func(fields map[string]string, name, content string) ([]byte, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range fields {
			_ = mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("file", name)
		_, _ = fw.Write([]byte(content))
		_ = mw.Close()
		return buf.Bytes(), mw.FormDataContentType()
	}
	docs := map[string][]string{}
	upload := func(id, name, text string) {
		t.Helper()
		body, ct := multipartBody(nil, name, text)
		r := rt.do(t, call{Method: "POST", Path: "/v1/knowledge-bases/docs/documents", Key: keys[id], Body: body, ContentType: ct})
		var doc struct {
			ID string `json:"id"`
		}
		r.decode(t, &doc)
		if r.Status != http.StatusAccepted || doc.ID == "" {
			t.Fatalf("%s's upload: %v", id, r)
		}
		eventually(t, id+"'s document indexed", func() (bool, string) {
			var d struct{ Status string }
			rt.do(t, call{Method: "GET", Path: "/v1/knowledge-bases/docs/documents/" + doc.ID, Key: keys[id]}).decode(t, &d)
			return d.Status == "indexed", d.Status
		})
		docs[id] = append(docs[id], doc.ID)
	}
	for i, topic := range []string{"travel", "expenses", "security", "onboarding", "leave", "equipment"} {
		upload(siloTenant, topic+".md", fmt.Sprintf("# %s\n\nGlobex policy %d on %s: ask the %s desk before you commit.\n", topic, i, topic, topic))
	}
	upload("acme", "leave.md", "# Leave\n\nAcme parental leave lasts twenty weeks.\n")
	for _, id := range []string{siloTenant, "acme"} {
		body, ct := multipartBody(map[string]string{"purpose": "fine-tune"}, id+".jsonl",
			`{"messages":[{"role":"user","content":"Where is my invoice?"},{"role":"assistant","content":"Under Billing."}]}`+"\n")
		if r := rt.do(t, call{Method: "POST", Path: "/v1/files", Key: keys[id], Body: body, ContentType: ct}); r.Status != http.StatusOK {
			t.Fatalf("%s's dataset upload: %v", id, r)
		}
	}
	// A tenant the deployment gave no cell, or one with knowledge bases on S3 Vectors
	// (whose vectors a move does not carry), is refused before anything moves.
	refused := func(id, want string) {
		t.Helper()
		r := admin("POST", "/admin/tenants/"+id+"/migration", map[string]any{"isolation_tier": "silo"}, http.StatusBadRequest)
		if !r.contains(want, `"param":"isolation_tier"`) {
			t.Fatalf("moving %s: %s, want it refused naming %q", id, r.Body, want)
		}
		if r := rt.do(t, call{Method: "GET", Path: "/admin/tenants/" + id + "/migration", Admin: true}); r.Status != http.StatusNotFound {
			t.Fatalf("a refused move left a state: %v", r)
		}
	}
	refused("acme", platform.EnvSiloTenants)
	admin("POST", "/admin/knowledge-bases", map[string]any{"tenant": siloTenant, "id": "vec", "index_backend": "s3vectors"}, http.StatusCreated)
	refused(siloTenant, "(vec)")
	admin("DELETE", "/admin/knowledge-bases/vec?tenant="+siloTenant, nil, http.StatusOK)

	began := time.Now()
	phase := func(what string) { t.Logf("%s after %v", what, time.Since(began).Round(time.Millisecond)) }
	before := snapshot(t, rt)
	records, objects, err := platform.TenantData(ctx, rt.admin, siloTenant)
	if err != nil || records < 10 || objects < 8 {
		t.Fatalf("the tenant's data before its move: %d records, %d objects (%v)", records, objects, err)
	}
	if len(before.silo) != 0 {
		t.Fatalf("the silo table holds %d records before the move", len(before.silo))
	}

	// One step of the move through the admin function: progress, not the end.
	var st cellmove.State
	admin("POST", "/admin/tenants/"+siloTenant+"/migration", map[string]any{"isolation_tier": "silo"}, http.StatusAccepted).decode(t, &st)
	if st.Phase != cellmove.PhaseCopyRecords || st.Records == 0 || st.Runs != 1 {
		t.Fatalf("after one step: %+v", st)
	}
	// The other functions learn the tenant is moving and refuse its requests; another
	// tenant is served.
	eventually(t, "the moving tenant refused by the retrieval function", func() (bool, string) {
		r := rt.do(t, call{Method: "GET", Path: "/v1/knowledge-bases/docs/documents/" + docs[siloTenant][0], Key: keys[siloTenant]})
		return r.Status == http.StatusServiceUnavailable, fmt.Sprint(r.Status)
	})
	if r := rt.do(t, call{Method: "GET", Path: "/v1/knowledge-bases/docs/documents/" + docs["acme"][0], Key: keys["acme"]}); r.Status != http.StatusOK {
		t.Fatalf("the pool tenant during the move: %v", r)
	}

	phase("one step, and the tenant refused")
	// A run stopped half-way through deleting the pool's copies, as a killed function
	// is; at every checkpoint nothing is lost and no pool copy is gone before its silo
	// copy is there.
	kill := errors.New("killed")
	checkpoints := 0
	_, err = platform.MoveTenant(ctx, rt.admin, siloTenant, platform.MoveBatch(3), platform.MoveCheckpointed(func(s cellmove.State) error {
		checkpoints++
		lossless(t, before, snapshot(t, rt), false)
		if s.Phase == cellmove.PhaseCleanup && s.RecordsDeleted > 0 {
			return kill
		}
		return nil
	}))
	if !errors.Is(err, kill) {
		t.Fatalf("the stopped run: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
	// The S3 events of the move's copies and deletions are delivered once it has ended
	// (those delivered while the tenant is frozen fail and are retried): the steps below
	// are sent without running them.
	undrained := func(method, path string, body any, want ...int) reply {
		t.Helper()
		c := call{Method: method, Path: path, Admin: true}
		if body != nil {
			c.Body, c.ContentType = jsonBody(body), "application/json"
		}
		r, err := rt.gateway(ctx, c)
		if err != nil || !slices.Contains(want, r.Status) {
			t.Fatalf("%s %s: %v %v, want %v", method, path, r, err, want)
		}
		return r
	}
	undrained("GET", "/admin/tenants/"+siloTenant+"/migration", nil, http.StatusOK).decode(t, &st)
	if st.Phase != cellmove.PhaseCleanup || st.Error == "" || st.RecordsDeleted == 0 || st.RecordsDeleted >= int64(records) {
		t.Fatalf("after the stop: %+v", st)
	}
	mid := snapshot(t, rt)
	if inBoth := len(mid.silo) - (len(before.pool) - len(mid.pool)); inBoth <= 0 {
		t.Fatalf("the stop left no record in both tables (%d in the silo's, %d gone from the pool's): not half-way", len(mid.silo), len(before.pool)-len(mid.pool))
	}

	phase("the stopped run")
	// Resumed through the admin function, a step per call, to the end.
	steps := 0
	for st.Phase != cellmove.PhaseDone {
		if steps++; steps > 200 {
			t.Fatalf("the move is not done after %d steps: %+v", steps, st)
		}
		r := undrained("POST", "/admin/tenants/"+siloTenant+"/migration", map[string]any{"isolation_tier": "silo"}, http.StatusAccepted, http.StatusOK)
		st = cellmove.State{}
		r.decode(t, &st)
		if st.Error != "" {
			t.Fatalf("step %d: %+v", steps, st)
		}
	}
	if steps < 2 || st.Runs < 3 {
		t.Fatalf("the move ended in %d steps and %d runs; want it resumed in several", steps, st.Runs)
	}
	phase("the resumed move")
	// Now the events: the copies' "Object Created" find each document unchanged, and
	// the pool's "Object Deleted" find the tenant's document where it now lives, so
	// nothing is deleted.
	rt.drain(t)
	after := snapshot(t, rt)
	siloRecords, siloObjects := lossless(t, before, after, true)
	if siloRecords != records || siloObjects != objects {
		t.Errorf("the silo holds %d records and %d objects, the tenant had %d and %d", siloRecords, siloObjects, records, objects)
	}
	if st.RecordsDeleted != int64(records) || st.BlobsDeleted != int64(objects) {
		t.Errorf("the report deleted %d records and %d objects, want %d and %d", st.RecordsDeleted, st.BlobsDeleted, records, objects)
	}
	for k := range after.pool {
		if pk, _, _ := strings.Cut(k, "\x00"); strings.HasPrefix(pk, "RAGDOC#"+siloTenant) || strings.HasPrefix(pk, "RAGKB#"+siloTenant) {
			t.Errorf("the pool table still holds the moved tenant's %q", k)
		}
	}
	for pool := range siloOf {
		for key := range after.objects[pool] {
			if strings.Contains(key, "/"+siloTenant+"/") {
				t.Errorf("the pool's %s still holds the moved tenant's %s", pool, key)
			}
		}
	}
	for k, item := range before.pool {
		if strings.Contains(k, "acme") && after.pool[k] != item {
			t.Errorf("the pool tenant's record %q changed", k)
		}
	}
	for pool := range siloOf {
		for key, body := range before.objects[pool] {
			if strings.Contains(key, "/acme/") && after.objects[pool][key] != body {
				t.Errorf("the pool tenant's object %s/%s changed", pool, key)
			}
		}
	}
	// A finished move answers its report again and moves nothing.
	var again cellmove.State
	admin("POST", "/admin/tenants/"+siloTenant+"/migration", map[string]any{"isolation_tier": "silo"}, http.StatusOK).decode(t, &again)
	if again.Phase != cellmove.PhaseDone || again.Runs != st.Runs || len(tableItems(t, rt.ddb, siloTable)) != len(after.silo) {
		t.Fatalf("posting a finished move: %+v", again)
	}

	// The tenant is served from its own cell by the other functions.
	eventually(t, "the moved tenant served again", func() (bool, string) {
		r := rt.do(t, call{Method: "POST", Path: "/v1/knowledge-bases/docs/retrieve", Key: keys[siloTenant],
			Body: jsonBody(map[string]any{"query": "security desk", "top_k": 3}), ContentType: "application/json"})
		return r.Status == http.StatusOK && r.contains("security desk"), fmt.Sprint(r.Status)
	})
	// Its documents name the bucket they live in now, its own; the pool tenant's the
	// pool's.
	sourceIn := func(id, doc, bucket string) {
		t.Helper()
		var d struct {
			SourceURI string `json:"source_uri"`
		}
		r := rt.do(t, call{Method: "GET", Path: "/v1/knowledge-bases/docs/documents/" + doc, Key: keys[id]})
		if r.decode(t, &d); r.Status != http.StatusOK || !strings.HasPrefix(d.SourceURI, "s3://"+bucket+"/tenants/"+id+"/kb/docs/") {
			t.Fatalf("%s's document %s: %d source_uri %q, want it in %s", id, doc, r.Status, d.SourceURI, bucket)
		}
	}
	for _, id := range docs[siloTenant] {
		sourceIn(siloTenant, id, siloDocuments)
	}
	sourceIn("acme", docs["acme"][0], documentsBucket)
	// So do one uploaded to it now, and the passages retrieved from its documents.
	upload(siloTenant, "parking.md", "# Parking\n\nGlobex parking permits come from the facilities desk.\n")
	sourceIn(siloTenant, docs[siloTenant][len(docs[siloTenant])-1], siloDocuments)
	var ret struct {
		Results []struct {
			Source string `json:"source"`
		} `json:"results"`
	}
	rt.do(t, call{Method: "POST", Path: "/v1/knowledge-bases/docs/retrieve", Key: keys[siloTenant],
		Body: jsonBody(map[string]any{"query": "parking permits facilities desk", "top_k": 3}), ContentType: "application/json"}).decode(t, &ret)
	if len(ret.Results) == 0 {
		t.Fatal("the moved tenant retrieved nothing")
	}
	for _, r := range ret.Results {
		if !strings.HasPrefix(r.Source, "s3://"+siloDocuments+"/tenants/"+siloTenant+"/") {
			t.Errorf("a passage retrieved for the moved tenant names %q", r.Source)
		}
	}
	if r := rt.do(t, call{Method: "POST", Path: "/v1/knowledge-bases/docs/retrieve", Key: keys["acme"],
		Body: jsonBody(map[string]any{"query": "security desk", "top_k": 3}), ContentType: "application/json"}); r.Status != 200 || r.contains("security desk") {
		t.Fatalf("the pool tenant's retrieval after the move: %v", r)
	}
	t.Logf("moved %d records and %d objects in %d steps after a stop at checkpoint %d", siloRecords, siloObjects, steps, checkpoints)
}

// TestSiloMigrationStepsWaitForPlacements: run only through the admin function's steps,
// a move does not switch the tenant to its cell (and then delete the pool's copies)
// before every function has reread the tenant's placement since the move began: the
// steps in between answer 202 at phase switch without moving anything.
func TestSiloMigrationStepsWaitForPlacements(t *testing.T) {
	rt := newAWS(t, newEnv(t))
	admin := func(method, path string, body any, want ...int) reply {
		t.Helper()
		r := rt.do(t, call{Method: method, Path: path, Admin: true, Body: jsonBody(body), ContentType: "application/json"})
		if !slices.Contains(want, r.Status) {
			t.Fatalf("%s %s: %d %s, want %v", method, path, r.Status, r.Body, want)
		}
		return r
	}
	admin("POST", "/admin/tenants", map[string]any{"id": siloTenant, "name": siloTenant}, http.StatusCreated)
	for _, kb := range []string{"docs", "faq", "policies"} {
		admin("POST", "/admin/knowledge-bases", map[string]any{"tenant": siloTenant, "id": kb}, http.StatusCreated)
	}
	var (
		st       cellmove.State
		waited   int
		switched time.Time
	)
	for steps := 0; st.Phase != cellmove.PhaseDone; steps++ {
		if steps > 500 {
			t.Fatalf("not done after %d steps: %+v", steps, st)
		}
		prev := st
		st = cellmove.State{}
		admin("POST", "/admin/tenants/"+siloTenant+"/migration", map[string]any{"isolation_tier": "silo"}, http.StatusAccepted, http.StatusOK).decode(t, &st)
		if st.Error != "" {
			t.Fatalf("step %d: %+v", steps, st)
		}
		if st.Phase == cellmove.PhaseSwitch && prev.Phase == cellmove.PhaseSwitch {
			if st.Records != prev.Records || st.Blobs != prev.Blobs || st.RecordsDeleted != 0 {
				t.Fatalf("a step waiting to switch moved something: %+v after %+v", st, prev)
			}
			waited++
		}
		if switched.IsZero() && (st.Phase == cellmove.PhaseCleanup || st.Phase == cellmove.PhaseDone) {
			switched = time.Now()
		}
	}
	if waited == 0 {
		t.Fatal("no step waited at phase switch")
	}
	if early := st.StartedAt.Add(placementTTL).Sub(switched); early > 0 {
		t.Fatalf("switched %v before every function could have reread the tenant's placement", early)
	}
	if st.Records == 0 || st.RecordsDeleted != st.Records {
		t.Fatalf("the move: %+v", st)
	}
}
