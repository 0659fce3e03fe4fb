package customize

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/flow"
)

// bedrockSyncOutput is the part of GetModelCustomizationJob's answer the flow reads
// from the .sync integration.
type bedrockSyncOutput struct {
	JobArn         string `json:"JobArn"`
	Status         string `json:"Status"`
	OutputModelArn string `json:"OutputModelArn"`
	FailureMessage string `json:"FailureMessage,omitempty"`
}

// BedrockSyncTask runs ResourceBedrockSync in-process, as Step Functions does in AWS:
// it starts the job through the "bedrock" customizer, polls it every poll seconds and
// returns GetModelCustomizationJob's fields once it completes; a failed or stopped job
// fails the task. Without a Bedrock customizer the task fails saying so.
func (s *Service) BedrockSyncTask() TaskFunc {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		c, err := s.customizer("bedrock")
		if err != nil {
			return nil, &flow.TaskError{Type: "Bedrock.NotConfigured", Cause: "Bedrock model customisation is not configured on this platform"}
		}
		var req BedrockJobRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: "decode CreateModelCustomizationJob parameters: " + err.Error()}
		}
		if err := checkValidators(raw); err != nil {
			return nil, err
		}
		spec := JobSpec{Name: req.JobName, BaseModel: req.BaseModelIdentifier, OutputModelName: req.CustomModelName,
			Type: CustomizationType(req.CustomizationType), Hyperparameters: req.HyperParameters, KMSKeyID: req.CustomModelKmsKeyID}
		if s.bedrock != nil {
			if spec.TrainingKey, err = s.bedrock.BlobKey(req.TrainingDataConfig.S3URI); err != nil {
				return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: err.Error()}
			}
			if spec.OutputPrefix, err = s.bedrock.BlobKey(req.OutputDataConfig.S3URI); err != nil {
				return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: err.Error()}
			}
			if v := req.ValidationDataConfig.Validators; len(v) > 0 {
				if spec.ValidationKey, err = s.bedrock.BlobKey(v[0].S3URI); err != nil {
					return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: err.Error()}
				}
			}
		}
		id, err := c.Start(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("%w: CreateModelCustomizationJob: %v", ErrProvider, err)
		}
		tick := time.NewTicker(time.Duration(s.pollSeconds) * time.Second)
		defer tick.Stop()
		for {
			pj, err := c.Get(ctx, spec, id)
			if ctx.Err() != nil {
				// The execution was stopped mid-call: stop the job with it.
				_ = c.Stop(context.WithoutCancel(ctx), spec, id)
				return nil, ctx.Err()
			}
			if err != nil {
				return nil, fmt.Errorf("%w: GetModelCustomizationJob: %v", ErrProvider, err)
			}
			switch pj.Status {
			case ProviderCompleted:
				return json.Marshal(bedrockSyncOutput{JobArn: pj.ID, Status: string(pj.Status), OutputModelArn: pj.OutputModel})
			case ProviderFailed, ProviderStopped:
				return nil, &flow.TaskError{Type: ErrNameTrainingFailed, Cause: pj.FailureMessage}
			}
			select {
			case <-ctx.Done():
				_ = c.Stop(context.WithoutCancel(ctx), spec, id)
				return nil, ctx.Err()
			case <-tick.C:
			}
		}
	}
}

// checkValidators refuses a ValidationDataConfig without validators, as Bedrock does
// (1 to 10 validators), so the flow is tested against what Step Functions would send.
func checkValidators(raw json.RawMessage) error {
	var probe struct {
		ValidationDataConfig *struct {
			Validators []Validator `json:"Validators"`
		} `json:"ValidationDataConfig"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: err.Error()}
	}
	if v := probe.ValidationDataConfig; v != nil && len(v.Validators) == 0 {
		return &flow.TaskError{Type: "Bedrock.ValidationException", Cause: "1 validation error detected: Value at 'validationDataConfig.validators' failed to satisfy constraint: Member must have length greater than or equal to 1"}
	}
	return nil
}
