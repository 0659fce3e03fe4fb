// Package scheduler runs evaluation suites on their schedules with Amazon EventBridge
// Scheduler: one schedule per scheduled suite in the platform's group, each starting the
// evaluation state machine (the platform's Schedules backend in AWS).
package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/plinth-ai/plinth/shared/eval"
)

// API is the part of the EventBridge Scheduler client the sync uses.
type API interface {
	CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	UpdateSchedule(ctx context.Context, in *scheduler.UpdateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error)
	DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
	ListSchedules(ctx context.Context, in *scheduler.ListSchedulesInput, optFns ...func(*scheduler.Options)) (*scheduler.ListSchedulesOutput, error)
}

// evalSchedulePrefix starts the name of every schedule the platform manages in its group.
const evalSchedulePrefix = "eval-"

// Name is the EventBridge Scheduler schedule name of a tenant's suite: readable,
// within Scheduler's 64 characters of [0-9A-Za-z-_.], and unique through a hash of the
// exact IDs.
func Name(tenantID, suiteID string) string {
	clean := func(s string, n int) string {
		s = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' || r == '.' {
				return r
			}
			return '_'
		}, s)
		if len(s) > n {
			s = s[:n]
		}
		return s
	}
	sum := sha256.Sum256([]byte(tenantID + "/" + suiteID))
	return evalSchedulePrefix + clean(tenantID, 24) + "-" + clean(suiteID, 24) + "-" + hex.EncodeToString(sum[:3])
}

// Schedules keeps an EventBridge Scheduler group holding exactly one
// schedule per scheduled suite, each starting the evaluation state machine with the
// suite's flow input through the scheduler role, failed deliveries going to the
// dead-letter queue (DLQ, optional).
type Schedules struct {
	Client  API
	Group   string
	Machine string
	Role    string
	DLQ     string
}

// Sync creates, updates and deletes schedules until the group matches want.
func (s *Schedules) Sync(ctx context.Context, want []eval.ScheduledSuite) error {
	var err error
	have := map[string]bool{}
	var next *string
	for {
		out, err := s.Client.ListSchedules(ctx, &scheduler.ListSchedulesInput{GroupName: aws.String(s.Group), NamePrefix: aws.String(evalSchedulePrefix), NextToken: next})
		if err != nil {
			return fmt.Errorf("list schedules of group %s: %w", s.Group, err)
		}
		for _, sc := range out.Schedules {
			have[aws.ToString(sc.Name)] = true
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	var errs []error
	wanted := map[string]bool{}
	for _, su := range want {
		name := Name(su.Tenant, su.SuiteID)
		wanted[name] = true
		target := &types.Target{
			Arn: aws.String(s.Machine), RoleArn: aws.String(s.Role), Input: aws.String(string(su.Input)),
			RetryPolicy: &types.RetryPolicy{MaximumRetryAttempts: aws.Int32(3), MaximumEventAgeInSeconds: aws.Int32(3600)},
		}
		if s.DLQ != "" {
			target.DeadLetterConfig = &types.DeadLetterConfig{Arn: aws.String(s.DLQ)}
		}
		desc := aws.String("Plinth evaluation suite " + su.Tenant + "/" + su.SuiteID)
		window := &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff}
		if have[name] {
			_, err = s.Client.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{Name: aws.String(name), GroupName: aws.String(s.Group),
				ScheduleExpression: aws.String(su.Schedule), FlexibleTimeWindow: window, Target: target, Description: desc, State: types.ScheduleStateEnabled})
		} else {
			_, err = s.Client.CreateSchedule(ctx, &scheduler.CreateScheduleInput{Name: aws.String(name), GroupName: aws.String(s.Group),
				ScheduleExpression: aws.String(su.Schedule), FlexibleTimeWindow: window, Target: target, Description: desc, State: types.ScheduleStateEnabled})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %s for suite %s/%s: %w", name, su.Tenant, su.SuiteID, err))
		}
	}
	for name := range have {
		if wanted[name] {
			continue
		}
		_, err := s.Client.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(s.Group)})
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			errs = append(errs, fmt.Errorf("delete schedule %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
