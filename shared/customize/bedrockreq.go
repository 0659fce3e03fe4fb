package customize

import (
	"fmt"
	"sort"
	"strings"
)

// S3Config is an S3 location as Bedrock's API names it.
type S3Config struct {
	S3URI string `json:"S3Uri"`
}

// Validator is one validation dataset of ValidationDataConfig.
type Validator struct {
	S3URI string `json:"S3Uri"`
}

// ValidationDataConfig is Bedrock's validation data configuration.
type ValidationDataConfig struct {
	Validators []Validator `json:"Validators"`
}

// Tag is a Bedrock tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// BedrockJobRequest is CreateModelCustomizationJob's request as Step Functions'
// optimised integration (arn:aws:states:::bedrock:createModelCustomizationJob.sync)
// takes it: Bedrock's members in PascalCase.
type BedrockJobRequest struct {
	BaseModelIdentifier  string               `json:"BaseModelIdentifier"`
	CustomModelName      string               `json:"CustomModelName"`
	JobName              string               `json:"JobName"`
	RoleArn              string               `json:"RoleArn"`
	CustomizationType    string               `json:"CustomizationType"`
	HyperParameters      map[string]string    `json:"HyperParameters"`
	TrainingDataConfig   S3Config             `json:"TrainingDataConfig"`
	ValidationDataConfig ValidationDataConfig `json:"ValidationDataConfig"`
	OutputDataConfig     S3Config             `json:"OutputDataConfig"`
	CustomModelKmsKeyID  string               `json:"CustomModelKmsKeyId"`
	ClientRequestToken   string               `json:"ClientRequestToken"`
	JobTags              []Tag                `json:"JobTags"`
	CustomModelTags      []Tag                `json:"CustomModelTags"`
}

// S3URI maps a blob key of the platform's bucket to an s3:// URI.
func (b BedrockSettings) S3URI(key string) string { return "s3://" + b.Bucket + "/" + key }

// BlobKey maps an s3:// URI in the platform's bucket back to a blob key.
func (b BedrockSettings) BlobKey(uri string) (string, error) {
	prefix := "s3://" + b.Bucket + "/"
	if !strings.HasPrefix(uri, prefix) {
		return "", fmt.Errorf("%q is outside the platform bucket %s", uri, b.Bucket)
	}
	return strings.TrimPrefix(uri, prefix), nil
}

// BedrockRequest builds the CreateModelCustomizationJob request for spec.
func (b BedrockSettings) BedrockRequest(spec JobSpec) BedrockJobRequest {
	tags := make([]Tag, 0, len(spec.Tags))
	for k, v := range spec.Tags {
		tags = append(tags, Tag{Key: k, Value: v})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	req := BedrockJobRequest{
		BaseModelIdentifier: spec.BaseModel, CustomModelName: bedrockName(spec.OutputModelName), JobName: spec.Name,
		RoleArn: b.RoleARN, CustomizationType: string(spec.Type), HyperParameters: spec.Hyperparameters,
		TrainingDataConfig:  S3Config{S3URI: b.S3URI(spec.TrainingKey)},
		OutputDataConfig:    S3Config{S3URI: b.S3URI(spec.OutputPrefix)},
		CustomModelKmsKeyID: spec.KMSKeyID, ClientRequestToken: spec.Name, JobTags: tags, CustomModelTags: tags,
	}
	if spec.ValidationKey != "" {
		req.ValidationDataConfig.Validators = []Validator{{S3URI: b.S3URI(spec.ValidationKey)}}
	}
	return req
}

// bedrockName turns a Plinth model name into a Bedrock custom-model name (letters,
// digits, '-', '_', '.', '+', at most 63 characters).
func bedrockName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '+':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = out[:63]
	}
	return out
}
