package orders

import (
	"errors"

	"sgw/refdata"
)

// CheckID checks an identifier of a request with refdata.CheckID (the
// one rule for every entry path: refdata.ValidID, the refdata.Max*Len
// limits) and returns its refusal as a *Reject with code orders.bad_id
// naming the field, never echoing the value.
func CheckID(field, id string, max int) error {
	err := refdata.CheckID(field, id, max)
	var ie *refdata.IDError
	if errors.As(err, &ie) {
		return &Reject{Code: CodeBadID, Text: ie.Text(), FIXReason: fixOther}
	}
	return err
}
