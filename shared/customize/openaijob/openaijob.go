// Package openaijob runs customisation jobs on any OpenAI-compatible fine-tuning API
// (OpenAI, Azure OpenAI's v1 API, another Plinth): the Customizer adapter for base
// models whose registry deployment is an "openai" endpoint. It uploads the validated
// records as chat examples (POST /files, purpose fine-tune), creates the job (POST
// /fine_tuning/jobs, tagged with the Plinth job in its metadata so a retried start finds
// it), reads status and metrics events, and copies the results file into the job's
// output location when the job succeeds.
package openaijob

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/customize"
)

// Customizer implements customize.Customizer on an OpenAI-compatible API.
type Customizer struct {
	client *http.Client
	blobs  blob.Store
}

var _ customize.Customizer = (*Customizer)(nil)

// New returns the adapter; client nil uses a client with a one-minute timeout.
func New(client *http.Client, blobs blob.Store) *Customizer {
	if blobs == nil {
		panic("openaijob: nil blob store")
	}
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	return &Customizer{client: client, blobs: blobs}
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("status %d: %s: %s", e.Status, e.Code, e.Message)
}

func (c *Customizer) do(ctx context.Context, ep customize.Endpoint, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(ep.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	if ep.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+ep.APIKey)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Error.Message == "" {
			e.Error.Message = strings.TrimSpace(string(b))
		}
		return &apiError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err := w.Write(b)
		return err
	}
	return json.Unmarshal(b, out)
}

// job is the part of OpenAI's fine-tuning job object the adapter reads.
type job struct {
	ID             string   `json:"id"`
	Status         string   `json:"status"`
	FineTunedModel *string  `json:"fine_tuned_model"`
	TrainedTokens  *int64   `json:"trained_tokens"`
	ResultFiles    []string `json:"result_files"`
	FinishedAt     *int64   `json:"finished_at"`
	Error          *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Start implements customize.Customizer.
func (c *Customizer) Start(ctx context.Context, spec customize.JobSpec) (string, error) {
	var existing struct {
		Data []job `json:"data"`
	}
	q := url.Values{"metadata[plinth_job]": {spec.Name}, "limit": {"1"}}
	if err := c.do(ctx, spec.Endpoint, http.MethodGet, "/fine_tuning/jobs?"+q.Encode(), "", nil, &existing); err != nil {
		return "", fmt.Errorf("list fine-tuning jobs: %w", err)
	}
	if len(existing.Data) > 0 {
		return existing.Data[0].ID, nil
	}
	trainID, err := c.upload(ctx, spec, spec.TrainingKey, "training")
	if err != nil {
		return "", err
	}
	body := map[string]any{
		"model": spec.BaseModel, "training_file": trainID, "suffix": suffix(spec.Name),
		"metadata": map[string]string{"plinth_job": spec.Name, "plinth_tenant": spec.Tenant},
	}
	if spec.ValidationKey != "" {
		if body["validation_file"], err = c.upload(ctx, spec, spec.ValidationKey, "validation"); err != nil {
			return "", err
		}
	}
	hp := map[string]any{}
	for name, key := range map[string]string{"epochCount": "n_epochs", "batchSize": "batch_size", "learningRateMultiplier": "learning_rate_multiplier"} {
		if v, ok := spec.Hyperparameters[name]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return "", fmt.Errorf("%w: hyperparameter %s=%q", customize.ErrInvalid, name, v)
			}
			hp[key] = f
		}
	}
	if len(hp) > 0 {
		body["hyperparameters"] = hp
	}
	b, _ := json.Marshal(body)
	var created job
	if err := c.do(ctx, spec.Endpoint, http.MethodPost, "/fine_tuning/jobs", "application/json", bytes.NewReader(b), &created); err != nil {
		return "", fmt.Errorf("create fine-tuning job: %w", err)
	}
	return created.ID, nil
}

// suffix is OpenAI's model-name suffix for a Plinth job (at most 18 characters on some
// deployments).
func suffix(jobName string) string {
	s := strings.TrimPrefix(jobName, "ftjob-")
	if len(s) > 12 {
		s = s[:12]
	}
	return "plinth-" + s
}

// upload sends validated records as OpenAI chat examples.
func (c *Customizer) upload(ctx context.Context, spec customize.JobSpec, key, role string) (string, error) {
	rc, _, err := c.blobs.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("read %s data: %w", role, err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			if err := mw.WriteField("purpose", customize.PurposeFineTune); err != nil {
				return err
			}
			fw, err := mw.CreateFormFile("file", spec.Name+"-"+role+".jsonl")
			if err != nil {
				return err
			}
			if err := toChat(rc, fw); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	var f struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, spec.Endpoint, http.MethodPost, "/files", mw.FormDataContentType(), pr, &f); err != nil {
		_ = pr.CloseWithError(err)
		return "", fmt.Errorf("upload %s file: %w", role, err)
	}
	return f.ID, nil
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// toChat rewrites records as {"messages": [...]} lines: a prompt/completion pair
// becomes a user and an assistant turn.
func toChat(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for sc.Scan() {
		var rec customize.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return fmt.Errorf("decode a validated record: %w", err)
		}
		var msgs []chatMessage
		switch {
		case rec.Messages != nil:
			if rec.System != "" {
				msgs = append(msgs, chatMessage{Role: "system", Content: rec.System})
			}
			for _, m := range rec.Messages {
				msgs = append(msgs, chatMessage{Role: m.Role, Content: m.Content})
			}
		default:
			msgs = []chatMessage{{Role: "user", Content: rec.Prompt}, {Role: "assistant", Content: rec.Completion}}
		}
		if err := enc.Encode(map[string]any{"messages": msgs}); err != nil {
			return err
		}
	}
	return sc.Err()
}

var statuses = map[string]customize.ProviderStatus{
	"validating_files": customize.ProviderInProgress, "queued": customize.ProviderInProgress, "running": customize.ProviderInProgress,
	"paused": customize.ProviderInProgress, "succeeded": customize.ProviderCompleted, "failed": customize.ProviderFailed,
	"cancelled": customize.ProviderStopped,
}

// Get implements customize.Customizer.
func (c *Customizer) Get(ctx context.Context, spec customize.JobSpec, id string) (customize.ProviderJob, error) {
	var j job
	if err := c.do(ctx, spec.Endpoint, http.MethodGet, "/fine_tuning/jobs/"+url.PathEscape(id), "", nil, &j); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return customize.ProviderJob{}, fmt.Errorf("fine-tuning job %s: %w", id, customize.ErrNotFound)
		}
		return customize.ProviderJob{}, fmt.Errorf("get fine-tuning job: %w", err)
	}
	status, ok := statuses[j.Status]
	if !ok {
		return customize.ProviderJob{}, fmt.Errorf("%w: fine-tuning job %s has unknown status %q", customize.ErrProvider, id, j.Status)
	}
	pj := customize.ProviderJob{ID: j.ID, Status: status}
	if j.Error != nil {
		pj.FailureMessage = j.Error.Message
	}
	if j.FineTunedModel != nil {
		pj.OutputModel = *j.FineTunedModel
	}
	if j.TrainedTokens != nil {
		pj.TrainedTokens = *j.TrainedTokens
	}
	if j.FinishedAt != nil {
		t := time.Unix(*j.FinishedAt, 0).UTC()
		pj.EndTime = &t
	}
	steps, err := c.steps(ctx, spec.Endpoint, id)
	if err != nil {
		return pj, err
	}
	pj.Steps = steps
	if n := len(steps); n > 0 {
		pj.TrainingLoss = &steps[n-1].TrainingLoss
	}
	if status == customize.ProviderCompleted {
		if pj.ResultKeys, err = c.results(ctx, spec, j); err != nil {
			return pj, err
		}
	}
	return pj, nil
}

// steps reads the job's metrics events, oldest first.
func (c *Customizer) steps(ctx context.Context, ep customize.Endpoint, id string) ([]customize.StepMetric, error) {
	var out []customize.StepMetric
	after := ""
	for page := 0; page < 100; page++ {
		q := url.Values{"limit": {"100"}}
		if after != "" {
			q.Set("after", after)
		}
		var list struct {
			Data []struct {
				ID   string         `json:"id"`
				Type string         `json:"type"`
				Data map[string]any `json:"data"`
			} `json:"data"`
			HasMore bool `json:"has_more"`
		}
		if err := c.do(ctx, ep, http.MethodGet, "/fine_tuning/jobs/"+url.PathEscape(id)+"/events?"+q.Encode(), "", nil, &list); err != nil {
			return nil, fmt.Errorf("list fine-tuning events: %w", err)
		}
		for _, e := range list.Data {
			if e.Type != "metrics" {
				continue
			}
			step, ok1 := e.Data["step"].(float64)
			loss, ok2 := e.Data["train_loss"].(float64)
			if ok1 && ok2 {
				out = append(out, customize.StepMetric{Step: int(step), TrainingLoss: loss})
			}
		}
		if !list.HasMore || len(list.Data) == 0 {
			break
		}
		after = list.Data[len(list.Data)-1].ID
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out, nil
}

// results copies the job's result files under the job's output prefix.
func (c *Customizer) results(ctx context.Context, spec customize.JobSpec, j job) ([]string, error) {
	var keys []string
	for i, id := range j.ResultFiles {
		var buf bytes.Buffer
		if err := c.do(ctx, spec.Endpoint, http.MethodGet, "/files/"+url.PathEscape(id)+"/content", "", nil, &buf); err != nil {
			return nil, fmt.Errorf("download result file %s: %w", id, err)
		}
		key := fmt.Sprintf("%sresults-%d.csv", spec.OutputPrefix, i+1)
		if _, err := c.blobs.Put(ctx, key, &buf, blob.PutOptions{ContentType: "text/csv", KMSKeyID: spec.KMSKeyID}); err != nil {
			return nil, fmt.Errorf("store result file %s: %w", id, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// Stop implements customize.Customizer; a finished job is left alone.
func (c *Customizer) Stop(ctx context.Context, spec customize.JobSpec, id string) error {
	err := c.do(ctx, spec.Endpoint, http.MethodPost, "/fine_tuning/jobs/"+url.PathEscape(id)+"/cancel", "", nil, nil)
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound) {
		if pj, gerr := c.Get(ctx, spec, id); (gerr == nil && pj.Done()) || errors.Is(gerr, customize.ErrNotFound) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("cancel fine-tuning job: %w", err)
	}
	return nil
}
