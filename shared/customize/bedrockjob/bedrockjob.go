// Package bedrockjob runs customisation jobs on Amazon Bedrock: the Customizer adapter
// for base models served by Bedrock (CreateModelCustomizationJob,
// GetModelCustomizationJob, StopModelCustomizationJob). In AWS the flow starts Bedrock
// jobs through Step Functions' .sync integration and this adapter only reads their
// status and metrics; locally (against a Bedrock endpoint) it runs them itself.
package bedrockjob

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/smithy-go"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/customize"
)

// API is the part of the Bedrock client the adapter uses.
type API interface {
	CreateModelCustomizationJob(ctx context.Context, in *bedrock.CreateModelCustomizationJobInput, opts ...func(*bedrock.Options)) (*bedrock.CreateModelCustomizationJobOutput, error)
	GetModelCustomizationJob(ctx context.Context, in *bedrock.GetModelCustomizationJobInput, opts ...func(*bedrock.Options)) (*bedrock.GetModelCustomizationJobOutput, error)
	StopModelCustomizationJob(ctx context.Context, in *bedrock.StopModelCustomizationJobInput, opts ...func(*bedrock.Options)) (*bedrock.StopModelCustomizationJobOutput, error)
}

var _ API = (*bedrock.Client)(nil)

// Customizer implements customize.Customizer on Bedrock.
type Customizer struct {
	api      API
	settings customize.BedrockSettings
	blobs    blob.Store
}

var _ customize.Customizer = (*Customizer)(nil)

// New returns the adapter. settings map blob keys to S3 URIs in the platform bucket and
// name the service role; blobs (the platform bucket) is where it finds the metrics files
// Bedrock writes.
func New(api API, settings customize.BedrockSettings, blobs blob.Store) *Customizer {
	if api == nil || blobs == nil || settings.Bucket == "" || settings.RoleARN == "" {
		panic("bedrockjob: the client, blob store, bucket and role are required")
	}
	return &Customizer{api: api, settings: settings, blobs: blobs}
}

// Input builds CreateModelCustomizationJob's input for spec.
func Input(settings customize.BedrockSettings, spec customize.JobSpec) *bedrock.CreateModelCustomizationJobInput {
	r := settings.BedrockRequest(spec)
	in := &bedrock.CreateModelCustomizationJobInput{
		BaseModelIdentifier: aws.String(r.BaseModelIdentifier), CustomModelName: aws.String(r.CustomModelName),
		JobName: aws.String(r.JobName), RoleArn: aws.String(r.RoleArn), ClientRequestToken: aws.String(r.ClientRequestToken),
		CustomizationType:  types.CustomizationType(r.CustomizationType),
		HyperParameters:    r.HyperParameters,
		TrainingDataConfig: &types.TrainingDataConfig{S3Uri: aws.String(r.TrainingDataConfig.S3URI)},
		OutputDataConfig:   &types.OutputDataConfig{S3Uri: aws.String(r.OutputDataConfig.S3URI)},
	}
	if r.CustomModelKmsKeyID != "" {
		in.CustomModelKmsKeyId = aws.String(r.CustomModelKmsKeyID)
	}
	if len(r.ValidationDataConfig.Validators) > 0 {
		vs := make([]types.Validator, len(r.ValidationDataConfig.Validators))
		for i, v := range r.ValidationDataConfig.Validators {
			vs[i] = types.Validator{S3Uri: aws.String(v.S3URI)}
		}
		in.ValidationDataConfig = &types.ValidationDataConfig{Validators: vs}
	}
	for _, t := range r.JobTags {
		in.JobTags = append(in.JobTags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	for _, t := range r.CustomModelTags {
		in.CustomModelTags = append(in.CustomModelTags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	return in
}

// Start implements customize.Customizer. The job name and idempotency token are the
// Plinth job ID, so a retried start returns the same Bedrock job.
func (c *Customizer) Start(ctx context.Context, spec customize.JobSpec) (string, error) {
	out, err := c.api.CreateModelCustomizationJob(ctx, Input(c.settings, spec))
	if err != nil {
		return "", fmt.Errorf("CreateModelCustomizationJob: %w", err)
	}
	return aws.ToString(out.JobArn), nil
}

// Get implements customize.Customizer: the job's status, losses, output model and the
// metrics files Bedrock wrote under the job's output location.
func (c *Customizer) Get(ctx context.Context, _ customize.JobSpec, id string) (customize.ProviderJob, error) {
	out, err := c.api.GetModelCustomizationJob(ctx, &bedrock.GetModelCustomizationJobInput{JobIdentifier: aws.String(id)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return customize.ProviderJob{}, fmt.Errorf("bedrock job %s: %w", id, customize.ErrNotFound)
	}
	if err != nil {
		return customize.ProviderJob{}, fmt.Errorf("GetModelCustomizationJob: %w", err)
	}
	pj := customize.ProviderJob{ID: aws.ToString(out.JobArn), Status: customize.ProviderStatus(out.Status),
		FailureMessage: aws.ToString(out.FailureMessage), OutputModel: aws.ToString(out.OutputModelArn), EndTime: out.EndTime}
	if m := out.TrainingMetrics; m != nil && m.TrainingLoss != nil {
		v := float64(*m.TrainingLoss)
		pj.TrainingLoss = &v
	}
	if len(out.ValidationMetrics) > 0 && out.ValidationMetrics[0].ValidationLoss != nil {
		v := float64(*out.ValidationMetrics[0].ValidationLoss)
		pj.ValidationLoss = &v
	}
	if pj.Status == customize.ProviderCompleted && out.OutputDataConfig != nil {
		prefix, err := c.settings.BlobKey(aws.ToString(out.OutputDataConfig.S3Uri))
		if err == nil {
			objs, err := c.blobs.List(ctx, prefix)
			if err != nil {
				return pj, fmt.Errorf("list the job's output: %w", err)
			}
			for _, o := range objs {
				if strings.HasSuffix(o.Key, ".csv") && strings.Contains(o.Key, jobSuffix(pj.ID)) {
					pj.ResultKeys = append(pj.ResultKeys, o.Key)
				}
			}
			sort.Strings(pj.ResultKeys)
		}
	}
	return pj, nil
}

// jobSuffix is the last part of a job ARN, which names the job's output folder.
func jobSuffix(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// Stop implements customize.Customizer; a job already finished is left alone.
func (c *Customizer) Stop(ctx context.Context, spec customize.JobSpec, id string) error {
	_, err := c.api.StopModelCustomizationJob(ctx, &bedrock.StopModelCustomizationJobInput{JobIdentifier: aws.String(id)})
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "ValidationException" || ae.ErrorCode() == "ResourceNotFoundException") {
		if pj, gerr := c.Get(ctx, spec, id); gerr == nil && pj.Done() || errors.Is(gerr, customize.ErrNotFound) {
			return nil
		}
	}
	return fmt.Errorf("StopModelCustomizationJob: %w", err)
}
