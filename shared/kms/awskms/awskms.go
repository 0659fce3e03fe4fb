// Package awskms is the AWS adapter of the key-management port: AWS KMS keys, data keys
// generated and unwrapped by KMS (GenerateDataKey and Decrypt under an encryption
// context). A disabled key, or one pending deletion, fails with kms.ErrKeyUnavailable;
// DeleteKey schedules the key's deletion (KMS's shortest window, 7 days by default),
// from which moment it can no longer be used.
package awskms

import (
	"context"
	"errors"
	"fmt"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/kms"
)

var _ kms.KeyManager = (*Manager)(nil)

// API is the part of the KMS client the adapter uses.
type API interface {
	CreateKey(ctx context.Context, in *awskms.CreateKeyInput, opts ...func(*awskms.Options)) (*awskms.CreateKeyOutput, error)
	GenerateDataKey(ctx context.Context, in *awskms.GenerateDataKeyInput, opts ...func(*awskms.Options)) (*awskms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *awskms.DecryptInput, opts ...func(*awskms.Options)) (*awskms.DecryptOutput, error)
	DisableKey(ctx context.Context, in *awskms.DisableKeyInput, opts ...func(*awskms.Options)) (*awskms.DisableKeyOutput, error)
	EnableKey(ctx context.Context, in *awskms.EnableKeyInput, opts ...func(*awskms.Options)) (*awskms.EnableKeyOutput, error)
	ScheduleKeyDeletion(ctx context.Context, in *awskms.ScheduleKeyDeletionInput, opts ...func(*awskms.Options)) (*awskms.ScheduleKeyDeletionOutput, error)
}

// Manager is KMS as the key-management port.
type Manager struct {
	api         API
	pendingDays int32
}

// Option configures a Manager.
type Option func(*Manager)

// WithPendingWindow sets the days a deleted key waits before KMS destroys it (7–30,
// default 7); it is unusable from the start.
func WithPendingWindow(days int32) Option { return func(m *Manager) { m.pendingDays = days } }

// New returns the adapter over a KMS client.
func New(api API, opts ...Option) *Manager {
	if api == nil {
		panic("awskms.New: nil client")
	}
	m := &Manager{api: api, pendingDays: 7}
	for _, o := range opts {
		o(m)
	}
	return m
}

// classify maps KMS's errors onto the port's.
func classify(op, keyID string, err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return fmt.Errorf("awskms: %s %s: %w", op, keyID, err)
	}
	switch api.ErrorCode() {
	case "NotFoundException":
		return fault.New(kms.ErrKeyNotFound, "", "KMS key %s does not exist: %s", keyID, api.ErrorMessage())
	case "DisabledException", "KMSInvalidStateException", "KeyUnavailableException":
		return fault.New(kms.ErrKeyUnavailable, "", "KMS key %s cannot be used (%s): %s", keyID, api.ErrorCode(), api.ErrorMessage())
	case "InvalidCiphertextException", "IncorrectKeyException":
		return fmt.Errorf("awskms: %s with %s: %w (%s)", op, keyID, kms.ErrInvalidCiphertext, api.ErrorCode())
	}
	return fmt.Errorf("awskms: %s %s: %w", op, keyID, err)
}

// CreateKey implements kms.KeyManager: a symmetric encryption key.
func (m *Manager) CreateKey(ctx context.Context, description string) (string, error) {
	out, err := m.api.CreateKey(ctx, &awskms.CreateKeyInput{Description: &description,
		KeySpec: types.KeySpecSymmetricDefault, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	if err != nil {
		return "", classify("create key", "", err)
	}
	if out.KeyMetadata == nil || out.KeyMetadata.KeyId == nil {
		return "", errors.New("awskms: CreateKey returned no key")
	}
	return *out.KeyMetadata.KeyId, nil
}

// GenerateDataKey implements kms.KeyManager: a 256-bit data key.
func (m *Manager) GenerateDataKey(ctx context.Context, keyID string, encCtx map[string]string) ([]byte, []byte, error) {
	out, err := m.api.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: &keyID, KeySpec: types.DataKeySpecAes256, EncryptionContext: encCtx})
	if err != nil {
		return nil, nil, classify("generate a data key", keyID, err)
	}
	return out.Plaintext, out.CiphertextBlob, nil
}

// Decrypt implements kms.KeyManager.
func (m *Manager) Decrypt(ctx context.Context, keyID string, wrapped []byte, encCtx map[string]string) ([]byte, error) {
	out, err := m.api.Decrypt(ctx, &awskms.DecryptInput{KeyId: &keyID, CiphertextBlob: wrapped, EncryptionContext: encCtx})
	if err != nil {
		return nil, classify("decrypt", keyID, err)
	}
	return out.Plaintext, nil
}

// DisableKey stops the key's use until EnableKey.
func (m *Manager) DisableKey(ctx context.Context, keyID string) error {
	if _, err := m.api.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: &keyID}); err != nil {
		return classify("disable", keyID, err)
	}
	return nil
}

// EnableKey lets a disabled key be used again.
func (m *Manager) EnableKey(ctx context.Context, keyID string) error {
	if _, err := m.api.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: &keyID}); err != nil {
		return classify("enable", keyID, err)
	}
	return nil
}

// DeleteKey schedules the key's deletion: it is unusable at once and destroyed after
// the pending window.
func (m *Manager) DeleteKey(ctx context.Context, keyID string) error {
	days := m.pendingDays
	if _, err := m.api.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: &keyID, PendingWindowInDays: &days}); err != nil {
		return classify("schedule the deletion of", keyID, err)
	}
	return nil
}
