// Package api holds boxoffice's OpenAPI 3.1 document, the description of the
// HTTP API (docs/api.md explains its conventions), served at
// GET /api/v1/openapi.json.
package api

import _ "embed"

// Spec is the OpenAPI 3.1 document (JSON) describing every route of
// internal/httpapi.
//
//go:embed openapi.json
var Spec []byte
