package server

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI 3.1 document; TestOpenAPIMatchesRouter keeps
// it and the router in step.
//
//go:embed openapi.json
var openAPI []byte

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(openAPI)
	return err
}

// OpenAPI returns the embedded OpenAPI document.
func OpenAPI() []byte { return openAPI }
