package gateway

import "errors"

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("gateway: invalid config")

// apiError is the JSON body of every 4xx and 5xx answer of the REST API:
// {"error":{"code":"unknown_symbol","message":"..."}}. Codes are stable.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
