package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/plinth-ai/plinth/shared/store"
)

const pkAliasLog = "REGISTRY#ALIASLOG#"

// AliasMove is one change of the model an alias names.
type AliasMove struct {
	Alias string `json:"alias"`
	// From is the model the alias named before ("" when it was new); To the model it
	// names after ("" when the move removed it).
	From string `json:"from"`
	To   string `json:"to"`
	By   string `json:"by"`
	// Rollback marks a move that undid an earlier one.
	Rollback bool  `json:"rollback,omitempty"`
	At       int64 `json:"at"`
}

// ErrNoHistory means an alias has no earlier target to roll back to.
var ErrNoHistory = errors.New("alias has no earlier target")

// PointAlias makes alias name the approved model id, taking it from the model it named
// before in the same transaction (so it always resolves to one of the two), and
// records the move for RollbackAlias. It returns the previous target ("" if none).
func (s *Service) PointAlias(ctx context.Context, alias, id, by string) (string, error) {
	if !idPattern.MatchString(alias) {
		return "", fmt.Errorf("%w: alias %q is not a valid name", ErrInvalid, alias)
	}
	for attempt := 0; attempt < 5; attempt++ {
		prev, err := s.moveAlias(ctx, alias, id, by, false)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return prev, err
	}
	return "", fmt.Errorf("point alias %s: %w", alias, ErrConflict)
}

// RollbackAlias points alias back at the model it named before its last move (removing
// it when it was new then) and returns the model it now names ("" when removed).
func (s *Service) RollbackAlias(ctx context.Context, alias, by string) (string, error) {
	items, err := s.st.Query(ctx, pkAliasLog+alias, store.QueryOptions{Desc: true, Limit: 1})
	if err != nil {
		return "", fmt.Errorf("alias history %s: %w", alias, err)
	}
	if len(items) == 0 {
		return "", fmt.Errorf("alias %s: %w", alias, ErrNoHistory)
	}
	var last AliasMove
	if err := json.Unmarshal(items[0].Data, &last); err != nil {
		return "", fmt.Errorf("decode alias history %s: %w", alias, err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		_, err := s.moveAlias(ctx, alias, last.From, by, true)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return last.From, err
	}
	return "", fmt.Errorf("roll back alias %s: %w", alias, ErrConflict)
}

// AliasHistory returns an alias's moves, newest first.
func (s *Service) AliasHistory(ctx context.Context, alias string) ([]AliasMove, error) {
	items, err := s.st.Query(ctx, pkAliasLog+alias, store.QueryOptions{Desc: true})
	if err != nil {
		return nil, fmt.Errorf("alias history %s: %w", alias, err)
	}
	out := make([]AliasMove, 0, len(items))
	for _, it := range items {
		var m AliasMove
		if err := json.Unmarshal(it.Data, &m); err != nil {
			return nil, fmt.Errorf("decode alias history %s: %w", alias, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// moveAlias points alias at to ("" removes it) in one transaction.
func (s *Service) moveAlias(ctx context.Context, alias, to, by string, rollback bool) (string, error) {
	if _, err := s.st.Get(ctx, store.Key{PK: pkModels, SK: alias}); err == nil {
		return "", fmt.Errorf("%w: alias %q is a model id", ErrInvalid, alias)
	}
	from := ""
	if it, err := s.st.Get(ctx, store.Key{PK: pkAliases, SK: alias}); err == nil {
		from = string(it.Data)
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("get alias %s: %w", alias, err)
	}
	if from == to {
		return from, nil
	}
	now := s.now().UTC()
	var ops []store.Op
	if from != "" {
		old, err := s.Get(ctx, from)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return "", err
		}
		if err == nil {
			old.Aliases = slices.DeleteFunc(old.Aliases, func(a string) bool { return a == alias })
			old.UpdatedAt = now
			op, err := modelPut(&old)
			if err != nil {
				return "", err
			}
			ops = append(ops, op)
		}
	}
	if to != "" {
		m, err := s.Get(ctx, to)
		if err != nil {
			return "", err
		}
		if !m.Status.Invocable() {
			return "", fmt.Errorf("%w: %s is %s; only approved models can be promoted", ErrNotInvocable, to, m.Status)
		}
		if !slices.Contains(m.Aliases, alias) {
			m.Aliases = append(m.Aliases, alias)
		}
		m.UpdatedAt = now
		op, err := modelPut(&m)
		if err != nil {
			return "", err
		}
		ops = append(ops, op, store.Op{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pkAliases, SK: alias}, Data: []byte(to)}})
	} else {
		ops = append(ops, store.Op{Kind: store.OpDelete, Key: store.Key{PK: pkAliases, SK: alias}})
	}
	move, _ := json.Marshal(AliasMove{Alias: alias, From: from, To: to, By: by, Rollback: rollback, At: now.Unix()})
	ops = append(ops, store.Op{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pkAliasLog + alias, SK: fmt.Sprintf("%019d", now.UnixNano())}, Data: move}})
	if err := s.st.Transact(ctx, ops); err != nil {
		if errors.Is(err, store.ErrConditionFailed) || errors.Is(err, store.ErrTransactionConflict) {
			return "", fmt.Errorf("alias %s: %w", alias, ErrConflict)
		}
		return "", fmt.Errorf("move alias %s: %w", alias, err)
	}
	s.invalidate()
	return from, nil
}

// modelPut is a conditional write of m at its current version.
func modelPut(m *Model) (store.Op, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return store.Op{}, fmt.Errorf("encode model %s: %w", m.ID, err)
	}
	return store.Op{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pkModels, SK: m.ID}, Data: data},
		Options: store.WriteOptions{Cond: store.IfVersion, Version: m.Version}}, nil
}
