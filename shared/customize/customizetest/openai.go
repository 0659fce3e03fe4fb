package customizetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OpenAIFineTuning fakes OpenAI's files and fine-tuning API under /v1: POST /files
// (multipart, purpose fine-tune), GET /files/{id}/content, POST /fine_tuning/jobs,
// GET /fine_tuning/jobs (with metadata[k]=v filters), GET /fine_tuning/jobs/{id},
// GET /fine_tuning/jobs/{id}/events and POST /fine_tuning/jobs/{id}/cancel. Requests
// need "Authorization: Bearer " + Key. A job advances one status per GET of it:
// validating_files, queued, running, then succeeded with a fine-tuned model, trained
// tokens, a results file and a metrics event per step.
type OpenAIFineTuning struct {
	*httptest.Server
	Key    string
	Models map[string]bool
	// FailModel makes jobs on this model fail.
	FailModel string

	mu    sync.Mutex
	files map[string]*oaFile
	jobs  map[string]*oaJob
	order []string
}

type oaFile struct {
	meta    map[string]any
	content []byte
}

type oaJob struct {
	obj    map[string]any
	gets   int
	events []map[string]any
}

// NewOpenAIFineTuning starts the fake with the models it can fine-tune.
func NewOpenAIFineTuning(key string, models ...string) *OpenAIFineTuning {
	f := &OpenAIFineTuning{Key: key, Models: map[string]bool{}, files: map[string]*oaFile{}, jobs: map[string]*oaJob{}}
	for _, m := range models {
		f.Models[m] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/files", f.upload)
	mux.HandleFunc("GET /v1/files/{id}/content", f.content)
	mux.HandleFunc("POST /v1/fine_tuning/jobs", f.create)
	mux.HandleFunc("GET /v1/fine_tuning/jobs", f.list)
	mux.HandleFunc("GET /v1/fine_tuning/jobs/{id}", f.get)
	mux.HandleFunc("GET /v1/fine_tuning/jobs/{id}/events", f.events)
	mux.HandleFunc("POST /v1/fine_tuning/jobs/{id}/cancel", f.cancel)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+f.Key {
			oaError(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided.")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return f
}

// File returns an uploaded file's content.
func (f *OpenAIFineTuning) File(id string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl, ok := f.files[id]
	if !ok {
		return nil, false
	}
	return fl.content, true
}

// Job returns a job object as the API shows it.
func (f *OpenAIFineTuning) Job(id string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return nil, false
	}
	return j.obj, true
}

func oaError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": code}})
}

func newOAID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (f *OpenAIFineTuning) upload(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		oaError(w, http.StatusBadRequest, "invalid_request_error", "expected multipart/form-data")
		return
	}
	if r.FormValue("purpose") != "fine-tune" {
		oaError(w, http.StatusBadRequest, "invalid_request_error", "purpose must be fine-tune")
		return
	}
	file, hdr, err := r.FormFile("file")
	if err != nil {
		oaError(w, http.StatusBadRequest, "invalid_request_error", "missing file")
		return
	}
	content, _ := io.ReadAll(file)
	for i, line := range bytes.Split(bytes.TrimSpace(content), []byte("\n")) {
		var rec struct {
			Messages []map[string]any `json:"messages"`
		}
		if json.Unmarshal(line, &rec) != nil || len(rec.Messages) < 2 {
			oaError(w, http.StatusBadRequest, "invalid_file_format", fmt.Sprintf("line %d is not a chat fine-tuning example", i+1))
			return
		}
	}
	id := newOAID("file-")
	meta := map[string]any{"id": id, "object": "file", "bytes": len(content), "created_at": time.Now().Unix(),
		"filename": hdr.Filename, "purpose": "fine-tune", "status": "processed"}
	f.mu.Lock()
	f.files[id] = &oaFile{meta: meta, content: content}
	f.mu.Unlock()
	writeJSON(w, meta)
}

func (f *OpenAIFineTuning) content(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fl, ok := f.files[r.PathValue("id")]
	f.mu.Unlock()
	if !ok {
		oaError(w, http.StatusNotFound, "not_found", "No such File object: "+r.PathValue("id"))
		return
	}
	_, _ = w.Write(fl.content)
}

func (f *OpenAIFineTuning) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model           string            `json:"model"`
		TrainingFile    string            `json:"training_file"`
		ValidationFile  string            `json:"validation_file"`
		Suffix          string            `json:"suffix"`
		Seed            *int64            `json:"seed"`
		Metadata        map[string]string `json:"metadata"`
		Hyperparameters map[string]any    `json:"hyperparameters"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		oaError(w, http.StatusBadRequest, "invalid_request_error", "invalid JSON")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.Models[req.Model] {
		oaError(w, http.StatusBadRequest, "model_not_available", "Model "+req.Model+" is not available for fine-tuning or does not exist.")
		return
	}
	for _, id := range []string{req.TrainingFile, req.ValidationFile} {
		if _, ok := f.files[id]; id != "" && !ok {
			oaError(w, http.StatusBadRequest, "invalid_request_error", "invalid file "+id)
			return
		}
	}
	for k, v := range req.Hyperparameters {
		if k != "n_epochs" && k != "batch_size" && k != "learning_rate_multiplier" {
			oaError(w, http.StatusBadRequest, "invalid_request_error", "unknown hyperparameter "+k)
			return
		}
		if _, ok := v.(float64); !ok && v != "auto" {
			oaError(w, http.StatusBadRequest, "invalid_request_error", k+" must be a number or auto")
			return
		}
	}
	id := newOAID("ftjob-")
	obj := map[string]any{
		"id": id, "object": "fine_tuning.job", "created_at": time.Now().Unix(), "error": nil, "fine_tuned_model": nil,
		"finished_at": nil, "hyperparameters": req.Hyperparameters, "model": req.Model, "organization_id": "org-fake",
		"result_files": []string{}, "seed": 0, "status": "validating_files", "trained_tokens": nil,
		"training_file": req.TrainingFile, "validation_file": nil, "metadata": req.Metadata, "suffix": req.Suffix,
	}
	if req.ValidationFile != "" {
		obj["validation_file"] = req.ValidationFile
	}
	if req.Seed != nil {
		obj["seed"] = *req.Seed
	}
	f.jobs[id] = &oaJob{obj: obj}
	f.order = append(f.order, id)
	writeJSON(w, obj)
}

func (f *OpenAIFineTuning) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data := []map[string]any{}
	for i := len(f.order) - 1; i >= 0; i-- {
		j := f.jobs[f.order[i]]
		match := true
		for k, vs := range r.URL.Query() {
			if key, ok := strings.CutPrefix(k, "metadata["); ok {
				md, _ := j.obj["metadata"].(map[string]string)
				match = match && md[strings.TrimSuffix(key, "]")] == vs[0]
			}
		}
		if match {
			data = append(data, j.obj)
		}
	}
	writeJSON(w, map[string]any{"object": "list", "data": data, "has_more": false})
}

// advance moves a job one status on, finishing it on the fourth read.
func (f *OpenAIFineTuning) advance(j *oaJob) {
	if j.obj["status"] == "cancelled" || j.obj["status"] == "succeeded" || j.obj["status"] == "failed" {
		return
	}
	j.gets++
	switch j.gets {
	case 1:
		j.obj["status"] = "queued"
	case 2:
		j.obj["status"] = "running"
		j.events = append(j.events, f.event("info", "message", "Fine-tuning job started", nil))
	default:
		now := time.Now().Unix()
		j.obj["finished_at"] = now
		if j.obj["model"] == f.FailModel {
			j.obj["status"] = "failed"
			j.obj["error"] = map[string]any{"code": "invalid_training_file", "message": "The job failed due to an invalid training file.", "param": "training_file"}
			return
		}
		var csv strings.Builder
		csv.WriteString("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n")
		for step := 1; step <= 3; step++ {
			loss := 2.0 / float64(step)
			fmt.Fprintf(&csv, "%d,%s,0.5,,\n", step, strconv.FormatFloat(loss, 'f', -1, 64))
			j.events = append(j.events, f.event("info", "metrics", fmt.Sprintf("Step %d/3: training loss=%.4f", step, loss),
				map[string]any{"step": step, "train_loss": loss, "total_steps": 3}))
		}
		rid := newOAID("file-")
		f.files[rid] = &oaFile{meta: map[string]any{"id": rid, "object": "file", "purpose": "fine-tune-results", "filename": "step_metrics.csv"}, content: []byte(csv.String())}
		suffix, _ := j.obj["suffix"].(string)
		j.obj["status"] = "succeeded"
		j.obj["fine_tuned_model"] = fmt.Sprintf("ft:%s:org-fake:%s:%s", j.obj["model"], suffix, j.obj["id"].(string)[6:14])
		j.obj["trained_tokens"] = 1234
		j.obj["result_files"] = []string{rid}
		j.events = append(j.events, f.event("info", "message", "The job has successfully completed", nil))
	}
}

func (f *OpenAIFineTuning) event(level, typ, msg string, data map[string]any) map[string]any {
	return map[string]any{"id": newOAID("ftevent-"), "object": "fine_tuning.job.event", "created_at": time.Now().Unix(),
		"level": level, "message": msg, "data": data, "type": typ}
}

func (f *OpenAIFineTuning) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[r.PathValue("id")]
	if !ok {
		oaError(w, http.StatusNotFound, "not_found", "No such fine-tuning job: "+r.PathValue("id"))
		return
	}
	f.advance(j)
	writeJSON(w, j.obj)
}

func (f *OpenAIFineTuning) events(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[r.PathValue("id")]
	if !ok {
		oaError(w, http.StatusNotFound, "not_found", "No such fine-tuning job: "+r.PathValue("id"))
		return
	}
	data := make([]map[string]any, 0, len(j.events))
	for i := len(j.events) - 1; i >= 0; i-- {
		data = append(data, j.events[i])
	}
	sort.SliceStable(data, func(a, b int) bool { return data[a]["created_at"].(int64) > data[b]["created_at"].(int64) })
	writeJSON(w, map[string]any{"object": "list", "data": data, "has_more": false})
}

func (f *OpenAIFineTuning) cancel(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[r.PathValue("id")]
	if !ok {
		oaError(w, http.StatusNotFound, "not_found", "No such fine-tuning job: "+r.PathValue("id"))
		return
	}
	switch j.obj["status"] {
	case "succeeded", "failed", "cancelled":
		oaError(w, http.StatusBadRequest, "invalid_request_error", "Job has already completed: "+r.PathValue("id"))
		return
	}
	j.obj["status"] = "cancelled"
	writeJSON(w, j.obj)
}
