// Package customizetest holds fakes of the model-customisation services Plinth calls
// that cannot run here: Amazon Bedrock's customisation API and an OpenAI-compatible
// fine-tuning API. Each speaks its service's wire format (paths, JSON member names,
// timestamps, error shapes) as the service documents it, so the real clients (the AWS
// SDK's Bedrock client, the platform's HTTP adapter) run against them unchanged.
package customizetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"

	"github.com/plinth-ai/plinth/shared/blob"
)

// BedrockJob is a customisation job as the fake keeps it.
type BedrockJob struct {
	Arn                string
	Name               string
	Status             string
	BaseModel          string
	OutputModelName    string
	OutputModelArn     string
	RoleArn            string
	TrainingURI        string
	ValidationURIs     []string
	OutputURI          string
	KMSKeyID           string
	CustomizationType  string
	HyperParameters    map[string]string
	ClientRequestToken string
	FailureMessage     string
	Created            time.Time
	Ended              *time.Time
	gets               int
}

// Bedrock fakes the control-plane operations of Amazon Bedrock model customisation
// (REST-JSON: POST /model-customization-jobs, GET /model-customization-jobs/{id},
// POST /model-customization-jobs/{id}/stop). A job completes after GetsToComplete
// status reads; then, when Blobs is set, the fake writes
// step_wise_training_metrics.csv under the job's output S3 URI (mapped to blob keys
// through Bucket), where Bedrock writes it.
type Bedrock struct {
	*httptest.Server
	Region  string
	Account string
	// GetsToComplete is how many GetModelCustomizationJob calls a job stays
	// InProgress (default 1).
	GetsToComplete int
	// FailWith makes jobs on these base models fail with the message.
	FailWith map[string]string
	// Blobs and Bucket let the fake write the job's output files.
	Blobs  blob.Store
	Bucket string

	mu      sync.Mutex
	jobs    map[string]*BedrockJob
	created []map[string]any
}

// NewBedrock starts the fake.
func NewBedrock() *Bedrock {
	b := &Bedrock{Region: "us-east-1", Account: "123456789012", GetsToComplete: 1, FailWith: map[string]string{}, jobs: map[string]*BedrockJob{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/model-customization-jobs", b.create)
	mux.HandleFunc("/model-customization-jobs/", b.job)
	b.Server = httptest.NewServer(mux)
	return b
}

// Client returns the AWS SDK's Bedrock client, pointed at the fake with static
// credentials.
func (b *Bedrock) Client() *bedrock.Client {
	return bedrock.NewFromConfig(aws.Config{Region: b.Region, Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "fake-secret", "")},
		func(o *bedrock.Options) { o.BaseEndpoint = aws.String(b.URL) })
}

// Created returns the bodies of every CreateModelCustomizationJob request, in order.
func (b *Bedrock) Created() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]any(nil), b.created...)
}

// Job returns a job by ARN or name.
func (b *Bedrock) Job(id string) (BedrockJob, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j := b.find(id)
	if j == nil {
		return BedrockJob{}, false
	}
	return *j, true
}

func (b *Bedrock) find(id string) *BedrockJob {
	if j, ok := b.jobs[id]; ok {
		return j
	}
	for _, j := range b.jobs {
		if j.Name == id {
			return j
		}
	}
	return nil
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-Errortype", typ)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

var (
	reName = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*$`)
	reRole = regexp.MustCompile(`^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$`)
	reS3   = regexp.MustCompile(`^s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?$`)
	types  = map[string]bool{"FINE_TUNING": true, "CONTINUED_PRE_TRAINING": true, "DISTILLATION": true}
)

type createRequest struct {
	BaseModelIdentifier string            `json:"baseModelIdentifier"`
	ClientRequestToken  string            `json:"clientRequestToken"`
	CustomizationType   string            `json:"customizationType"`
	CustomModelKmsKeyID string            `json:"customModelKmsKeyId"`
	CustomModelName     string            `json:"customModelName"`
	HyperParameters     map[string]string `json:"hyperParameters"`
	JobName             string            `json:"jobName"`
	RoleArn             string            `json:"roleArn"`
	TrainingDataConfig  *struct {
		S3URI string `json:"s3Uri"`
	} `json:"trainingDataConfig"`
	ValidationDataConfig *struct {
		Validators []struct {
			S3URI string `json:"s3Uri"`
		} `json:"validators"`
	} `json:"validationDataConfig"`
	OutputDataConfig *struct {
		S3URI string `json:"s3Uri"`
	} `json:"outputDataConfig"`
}

func (b *Bedrock) create(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		awsError(w, http.StatusMethodNotAllowed, "ValidationException", "method not allowed")
		return
	}
	var raw map[string]any
	body := new(bytes.Buffer)
	_, _ = body.ReadFrom(r.Body)
	if err := json.Unmarshal(body.Bytes(), &raw); err != nil {
		awsError(w, http.StatusBadRequest, "ValidationException", "malformed request body")
		return
	}
	var req createRequest
	if err := json.Unmarshal(body.Bytes(), &req); err != nil {
		awsError(w, http.StatusBadRequest, "ValidationException", "hyperParameters must map names to strings: "+err.Error())
		return
	}
	switch {
	case req.BaseModelIdentifier == "" || req.CustomModelName == "" || req.JobName == "" || req.RoleArn == "" || req.TrainingDataConfig == nil || req.OutputDataConfig == nil:
		awsError(w, http.StatusBadRequest, "ValidationException", "baseModelIdentifier, customModelName, jobName, roleArn, trainingDataConfig and outputDataConfig are required")
		return
	case len(req.JobName) > 63 || !reName.MatchString(req.JobName):
		awsError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'jobName' failed to satisfy constraint")
		return
	case len(req.CustomModelName) > 63 || !reName.MatchString(req.CustomModelName):
		awsError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'customModelName' failed to satisfy constraint")
		return
	case !reRole.MatchString(req.RoleArn):
		awsError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'roleArn' failed to satisfy constraint")
		return
	case !reS3.MatchString(req.TrainingDataConfig.S3URI) || !reS3.MatchString(req.OutputDataConfig.S3URI):
		awsError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 's3Uri' failed to satisfy constraint")
		return
	case req.CustomizationType != "" && !types[req.CustomizationType]:
		awsError(w, http.StatusBadRequest, "ValidationException", "customizationType must be one of FINE_TUNING, CONTINUED_PRE_TRAINING, DISTILLATION")
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.created = append(b.created, raw)
	for _, j := range b.jobs {
		if req.ClientRequestToken != "" && j.ClientRequestToken == req.ClientRequestToken {
			writeJSON(w, map[string]string{"jobArn": j.Arn})
			return
		}
		if j.Name == req.JobName {
			awsError(w, http.StatusConflict, "ConflictException", "a job named "+req.JobName+" already exists")
			return
		}
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	suffix := hex.EncodeToString(id[:])
	typ := req.CustomizationType
	if typ == "" {
		typ = "FINE_TUNING"
	}
	j := &BedrockJob{
		Arn:  fmt.Sprintf("arn:aws:bedrock:%s:%s:model-customization-job/%s/%s", b.Region, b.Account, req.BaseModelIdentifier, suffix),
		Name: req.JobName, Status: "InProgress", BaseModel: req.BaseModelIdentifier, OutputModelName: req.CustomModelName,
		RoleArn: req.RoleArn, TrainingURI: req.TrainingDataConfig.S3URI, OutputURI: req.OutputDataConfig.S3URI,
		KMSKeyID: req.CustomModelKmsKeyID, CustomizationType: typ, HyperParameters: req.HyperParameters,
		ClientRequestToken: req.ClientRequestToken, Created: time.Now().UTC(),
	}
	if req.ValidationDataConfig != nil {
		for _, v := range req.ValidationDataConfig.Validators {
			j.ValidationURIs = append(j.ValidationURIs, v.S3URI)
		}
	}
	b.jobs[j.Arn] = j
	writeJSON(w, map[string]string{"jobArn": j.Arn})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (b *Bedrock) job(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/model-customization-jobs/")
	stop := false
	if s, ok := strings.CutSuffix(rest, "/stop"); ok {
		rest, stop = s, true
	}
	id, err := url.PathUnescape(rest)
	if err != nil {
		awsError(w, http.StatusBadRequest, "ValidationException", "bad job identifier")
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	j := b.find(id)
	if j == nil {
		awsError(w, http.StatusNotFound, "ResourceNotFoundException", "The specified job "+id+" was not found")
		return
	}
	if stop {
		if r.Method != http.MethodPost {
			awsError(w, http.StatusMethodNotAllowed, "ValidationException", "method not allowed")
			return
		}
		if j.Status != "InProgress" {
			awsError(w, http.StatusBadRequest, "ValidationException", "the job is "+j.Status+" and cannot be stopped")
			return
		}
		now := time.Now().UTC()
		j.Status, j.Ended = "Stopped", &now
		writeJSON(w, map[string]any{})
		return
	}
	if r.Method != http.MethodGet {
		awsError(w, http.StatusMethodNotAllowed, "ValidationException", "method not allowed")
		return
	}
	j.gets++
	if j.Status == "InProgress" && j.gets > b.GetsToComplete {
		b.finish(r.Context(), j)
	}
	writeJSON(w, b.describe(j))
}

// finish ends a job: failed when its base model is set to fail, else completed with
// an output model and its metrics file.
func (b *Bedrock) finish(ctx context.Context, j *BedrockJob) {
	now := time.Now().UTC()
	j.Ended = &now
	if msg, ok := b.FailWith[j.BaseModel]; ok {
		j.Status, j.FailureMessage = "Failed", msg
		return
	}
	j.Status = "Completed"
	j.OutputModelArn = fmt.Sprintf("arn:aws:bedrock:%s:%s:custom-model/%s/%s", b.Region, b.Account, j.BaseModel, j.Arn[strings.LastIndexByte(j.Arn, '/')+1:])
	if b.Blobs == nil {
		return
	}
	prefix := strings.TrimPrefix(j.OutputURI, "s3://"+b.Bucket+"/")
	key := strings.TrimSuffix(prefix, "/") + "/model-customization-job-" + j.Arn[strings.LastIndexByte(j.Arn, '/')+1:] + "/training_artifacts/step_wise_training_metrics.csv"
	csv := "step_number,epoch_number,training_loss,perplexity\n1,0,2.2,9.03\n2,0,1.6,4.95\n3,1,1.1,3.0\n"
	_, _ = b.Blobs.Put(ctx, key, strings.NewReader(csv), blob.PutOptions{ContentType: "text/csv"})
}

func (b *Bedrock) describe(j *BedrockJob) map[string]any {
	out := map[string]any{
		"jobArn": j.Arn, "jobName": j.Name, "status": j.Status, "outputModelName": j.OutputModelName,
		"baseModelArn": fmt.Sprintf("arn:aws:bedrock:%s::foundation-model/%s", b.Region, j.BaseModel),
		"roleArn":      j.RoleArn, "customizationType": j.CustomizationType, "hyperParameters": j.HyperParameters,
		"creationTime": j.Created.Format(time.RFC3339Nano), "lastModifiedTime": j.Created.Format(time.RFC3339Nano),
		"trainingDataConfig": map[string]string{"s3Uri": j.TrainingURI}, "outputDataConfig": map[string]string{"s3Uri": j.OutputURI},
	}
	validators := []map[string]string{}
	for _, v := range j.ValidationURIs {
		validators = append(validators, map[string]string{"s3Uri": v})
	}
	out["validationDataConfig"] = map[string]any{"validators": validators}
	if j.ClientRequestToken != "" {
		out["clientRequestToken"] = j.ClientRequestToken
	}
	if j.KMSKeyID != "" {
		out["outputModelKmsKeyArn"] = j.KMSKeyID
	}
	if j.Ended != nil {
		out["endTime"] = j.Ended.Format(time.RFC3339Nano)
	}
	switch j.Status {
	case "Completed":
		out["outputModelArn"] = j.OutputModelArn
		out["trainingMetrics"] = map[string]float64{"trainingLoss": 1.1}
		if len(j.ValidationURIs) > 0 {
			out["validationMetrics"] = []map[string]float64{{"validationLoss": 1.3}}
		}
	case "Failed":
		out["failureMessage"] = j.FailureMessage
	}
	return out
}
