package sigv4

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestTransportSignsWhatVerifierAccepts: a request signed by Transport (body hash, session
// token) passes Verify with the body intact; a wrong secret or another region does not.
func TestTransportSignsWhatVerifierAccepts(t *testing.T) {
	cred := Credential{AccessKeyID: "ASIAFUNCTION", SecretAccessKey: "function-secret", SessionToken: "session-token",
		PrincipalARN: "arn:aws:sts::111122223333:assumed-role/ingest/fn"}
	v := NewVerifier("eu-central-1", "execute-api", []Credential{cred}, WithoutUnsignedPayload())
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Verify(r)
		body, _ := io.ReadAll(r.Body)
		if err != nil {
			got = append(got, "refused: "+err.Error())
			w.WriteHeader(http.StatusForbidden)
			return
		}
		got = append(got, c.PrincipalARN+" "+string(body))
	}))
	defer srv.Close()
	post := func(secret, region string) {
		t.Helper()
		c := &http.Client{Transport: &Transport{Credentials: credentials.NewStaticCredentialsProvider(cred.AccessKeyID, secret, cred.SessionToken),
			Region: region, Service: "execute-api"}}
		resp, err := c.Post(srv.URL+"/v1/embeddings", "application/json", strings.NewReader(`{"input":["hello"]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post(cred.SecretAccessKey, "eu-central-1")
	post("wrong-secret", "eu-central-1")
	post(cred.SecretAccessKey, "us-east-1")
	if len(got) != 3 || got[0] != cred.PrincipalARN+` {"input":["hello"]}` ||
		!strings.Contains(got[1], ErrSignatureMismatch.Error()) || !strings.HasPrefix(got[2], "refused: ") {
		t.Fatalf("got %q", got)
	}
	if _, err := (&Transport{}).RoundTrip(httptest.NewRequest("GET", "/", nil)); err == nil || errors.Is(err, ErrNotSigned) {
		t.Fatalf("an unconfigured transport: %v", err)
	}
}
