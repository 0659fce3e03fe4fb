// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests against
// configured credentials, so the local platform accepts the same IAM-signed requests API
// Gateway accepts in AWS and maps their principal to a tenant. It accepts the
// header-based form (Authorization: AWS4-HMAC-SHA256 …) as the AWS SDKs send it;
// presigned URLs and chunked (STREAMING-…) payloads are refused.
//
// What it checks, as AWS does: the credential scope (date, region, service,
// aws4_request); X-Amz-Date within the allowed clock skew (default 5 minutes, AWS's
// replay window) and on the scope's date; that host and x-amz-date are signed; the
// session token (X-Amz-Security-Token) of a temporary credential, signed and equal to
// the configured one, and none for a long-term credential; the payload hash, always
// recomputed from the body (a signed X-Amz-Content-Sha256 that differs from the body is
// refused), or the literal UNSIGNED-PAYLOAD when the client signed that and the verifier
// allows it; and the signature itself.
//
// The signature is recomputed by the AWS SDK for Go's own v4 signer over a copy of the
// request that carries exactly the headers the client signed, and compared in constant
// time. What stays hand-written, and why: parsing the Authorization header, the checks
// above that precede signing (the SDK signs; it does not verify), and rebuilding the
// request the signer sees, since the signer chooses its signed headers from the request
// it is given. Consequently a signature over a header the SDK never signs (User-Agent,
// Expect, Transfer-Encoding, X-Amzn-Trace-Id) cannot be recomputed and is refused as
// malformed; the AWS SDKs and @smithy/signature-v4 never sign those.
package sigv4
