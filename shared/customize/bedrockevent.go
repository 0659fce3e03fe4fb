package customize

import (
	"context"
	"errors"
	"fmt"

	"github.com/plinth-ai/plinth/shared/registry"
)

// Amazon Bedrock's job state-change events, as EventBridge delivers them to the default
// bus (events/bedrock-customization-job-state-change.json is a real-shaped sample).
const (
	BedrockEventSource       = "aws.bedrock"
	BedrockJobStateChange    = "Model Customization Job State Change"
	TaskBedrockJobStateEvent = "BedrockJobStateChange"
)

// BedrockJobEvent is a "Model Customization Job State Change" event. Its detail carries
// GetModelCustomizationJob's fields, with the status under jobStatus.
type BedrockJobEvent struct {
	ID         string             `json:"id"`
	Source     string             `json:"source"`
	DetailType string             `json:"detail-type"`
	Time       string             `json:"time"`
	Resources  []string           `json:"resources"`
	Detail     BedrockEventDetail `json:"detail"`
}

// BedrockEventDetail is the event's detail.
type BedrockEventDetail struct {
	JobName         string `json:"jobName"`
	JobArn          string `json:"jobArn"`
	JobStatus       string `json:"jobStatus"`
	FailureMessage  string `json:"failureMessage,omitempty"`
	OutputModelName string `json:"outputModelName,omitempty"`
	OutputModelArn  string `json:"outputModelArn,omitempty"`
}

// BedrockEventOutcome says what the backstop did with an event.
type BedrockEventOutcome struct {
	JobID  string `json:"job_id,omitempty"`
	Action string `json:"action"`
}

// Backstop actions.
const (
	ActionIgnored       = "ignored"
	ActionMarkedRunning = "marked_running"
	ActionFailed        = "failed"
	ActionStoppedOrphan = "stopped_orphan"
	ActionNoted         = "noted"
)

// BedrockEventTask is BedrockJobChanged as a task handler (the event is its input).
func (s *Service) BedrockEventTask() TaskFunc { return task(s.BedrockJobChanged) }

// BedrockJobChanged is the backstop behind the flow's Bedrock step: Step Functions'
// .sync integration normally carries a Bedrock job to its end, but an execution can be
// lost (stopped by hand, timed out, its cleanup failed), and then only Bedrock's own
// state-change events say what became of the job. Jobs are found by their Bedrock job
// name, which is the Plinth job ID; events of other jobs are ignored.
//
//   - InProgress: a queued job is marked running with its Bedrock job ARN; a Bedrock
//     job still running for a job that was cancelled or failed is stopped.
//   - Failed or Stopped: a job that has not ended fails with Bedrock's message, its flow
//     execution is stopped and its intermediate data removed (what the flow's Cleanup
//     does when it gets there first, so either order ends the same).
//   - Completed: nothing while the flow is running (it registers the model); for a job
//     that already ended, an event records that Bedrock made a custom model nobody
//     will register, so an admin can delete it.
func (s *Service) BedrockJobChanged(ctx context.Context, ev BedrockJobEvent) (*BedrockEventOutcome, error) {
	if ev.Source != BedrockEventSource || ev.DetailType != BedrockJobStateChange {
		return nil, fmt.Errorf("%w: not a Bedrock model customisation event (%s / %s)", ErrInvalid, ev.Source, ev.DetailType)
	}
	d := ev.Detail
	rec, _, err := s.getRecord(ctx, d.JobName)
	if err != nil || rec.Job.Details.Provider != registry.ProviderBedrock {
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		s.log.Info("Bedrock job event for no Plinth job", "job_name", d.JobName, "job_arn", d.JobArn, "status", d.JobStatus)
		return &BedrockEventOutcome{Action: ActionIgnored}, nil
	}
	id := rec.Job.ID
	out := &BedrockEventOutcome{JobID: id, Action: ActionIgnored}
	ended := rec.Job.Status == StatusCancelled || rec.Job.Status == StatusFailed
	switch ProviderStatus(d.JobStatus) {
	case ProviderInProgress:
		if ended {
			if err := s.stopBedrockJob(ctx, rec, d.JobArn); err != nil {
				return nil, err
			}
			s.event(ctx, id, "warn", "message", "Stopped Bedrock job "+d.JobArn+": the fine-tuning job had already ended "+rec.Job.Status, nil)
			out.Action = ActionStoppedOrphan
			return out, nil
		}
		changed := false
		if _, err := s.updateJob(ctx, id, func(r *jobRecord) error {
			changed = false
			if r.Job.Details.ProviderJobID == "" {
				r.Job.Details.ProviderJobID, changed = d.JobArn, true
			}
			if r.Job.Status == StatusQueued {
				r.Job.Status, r.Job.Details.Stage, changed = StatusRunning, StageTraining, true
			}
			if !changed {
				return errUnchanged
			}
			return nil
		}); err != nil && !errors.Is(err, errUnchanged) {
			return nil, err
		}
		if changed {
			s.event(ctx, id, "info", "message", "Fine-tuning job started", map[string]any{"provider": registry.ProviderBedrock, "provider_job_id": d.JobArn})
			out.Action = ActionMarkedRunning
		}
	case ProviderFailed, ProviderStopped:
		if rec.Job.Final() {
			return out, nil
		}
		msg := d.FailureMessage
		if msg == "" {
			msg = "the Bedrock job ended " + d.JobStatus
		}
		var exec string
		rec, err = s.updateJob(ctx, id, func(r *jobRecord) error {
			if r.Job.Final() {
				return errUnchanged
			}
			if r.Job.Details.ProviderJobID == "" {
				r.Job.Details.ProviderJobID = d.JobArn
			}
			s.failJob(r, "training_failed", msg)
			r.TaskToken = ""
			exec = r.Job.Details.Execution
			return nil
		})
		if errors.Is(err, errUnchanged) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		s.event(ctx, id, "error", "message", "Fine-tuning job failed: "+msg, map[string]any{"error": ErrNameTrainingFailed, "provider_job_id": d.JobArn})
		if exec != "" && s.workflow != nil {
			if err := s.workflow.Stop(ctx, exec, ErrNameTrainingFailed, msg); err != nil {
				s.log.Warn("stop the customisation flow of a failed Bedrock job", "job", id, "execution", exec, "error", err)
			}
		}
		s.removeIntermediate(ctx, rec)
		out.Action = ActionFailed
	case ProviderCompleted:
		if !ended {
			return out, nil
		}
		s.event(ctx, id, "warn", "message", fmt.Sprintf("Bedrock finished training after the job ended %s; its custom model %s is not registered (delete it with DeleteCustomModel if it is not wanted)",
			rec.Job.Status, d.OutputModelArn), map[string]any{"provider_job_id": d.JobArn, "output_model": d.OutputModelArn})
		out.Action = ActionNoted
	}
	return out, nil
}

// errUnchanged ends an updateJob closure without writing.
var errUnchanged = errors.New("customize: nothing to change")

// stopBedrockJob stops a Bedrock job by ARN through the bedrock customizer.
func (s *Service) stopBedrockJob(ctx context.Context, rec *jobRecord, arn string) error {
	c, err := s.customizer(registry.ProviderBedrock)
	if err != nil {
		return err
	}
	spec, err := s.spec(ctx, rec)
	if err != nil {
		return err
	}
	if err := c.Stop(ctx, spec, arn); err != nil {
		return fmt.Errorf("%w: stop %s: %v", ErrProvider, arn, err)
	}
	return nil
}
