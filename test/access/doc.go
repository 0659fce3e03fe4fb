// Package access tests the platform's one authorization policy end to end: every route of
// the OpenAPI document called with a credential of every role, for the caller's own
// tenant and for another tenant, answers exactly as its x-plinth-access documents; the
// documentation (OpenAPI and the README's access table) says exactly what shared/access
// enforces.
package access
